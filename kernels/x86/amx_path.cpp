// The Int8Matrix-level functions of kernels/x86/amx_path.h: validation,
// packing and the epilogue tables in plain C++; the tile work in s8s8_amx.cpp
// (hardware) or s8s8_amx_emulated.cpp (emulator).
#include "kernels/x86/amx_path.h"

#include <string>
#include <vector>

#include "kernels/kernel_path.h"
#include "kernels/x86/epilogue.h"
#include "kernels/x86/pack_tdpbssd.h"
#include "base/error.h"

namespace sqsim::kernels {

namespace {

void linear_packed(const Int8Matrix& a, const amx::PackedB& pb, const ScaleView& b_scales, const float* bias,
                   AmxTiles tiles, float* y, const amx::Blocking& blocking) {
  CacheLineVector<int8_t> storage;
  const amx::ActivationView av = amx::activation_tiles(a, pb.gs, storage);
  const long n_pad = pb.nblocks * 16;
  const EpilogueTables t = epilogue_tables(scales_of(a), b_scales, a.rows, pb.n, pb.k, pb.gs, n_pad);
  const EpilogueView e = t.view(bias, n_pad);
  if (tiles == AmxTiles::kHardware) tiles = a.rows < kAmxMinRows ? AmxTiles::kRowsVnni : AmxTiles::kHardwareTiles;
  switch (tiles) {
    case AmxTiles::kHardwareTiles: amx::gemm_packed_f32_amx(av, pb.view(), e, y, blocking); break;
    case AmxTiles::kRowsVnni: amx::gemm_packed_f32_rows_avx512vnni(av, pb.view(), e, y); break;
    default: amx::gemm_packed_f32_amx_emulated(av, pb.view(), e, y, blocking); break;
  }
}

}  // namespace

Int8AmxWeights pack_weights_amx(const Int8Matrix& b, long group_size) {
  Int8AmxWeights w;
  w.packed = std::make_shared<const amx::PackedB>(amx::pack_b(b, group_size));
  w.rows = b.rows;
  w.cols = b.cols;
  w.group_size = group_size;
  return w;
}

void gemm_s8s8s32_amx(const Int8Matrix& a, const Int8Matrix& b, long group_size, AmxTiles tiles, int32_t* acc,
                      const amx::Blocking& blocking) {
  const amx::PackedB pb = amx::pack_b(b, group_size);
  CacheLineVector<int8_t> storage;
  const amx::ActivationView av = amx::activation_tiles(a, group_size, storage);
  if (tiles == AmxTiles::kEmulated) amx::gemm_packed_amx_emulated(av, pb.view(), acc, blocking);
  else amx::gemm_packed_amx(av, pb.view(), acc, blocking);
}

MatrixF linear_s8s8_amx(const Int8Matrix& a, const Int8Matrix& b, const float* bias, AmxTiles tiles,
                        const amx::Blocking& blocking) {
  const long g = validate_s8s8(a, b, "int8 GEMM");
  MatrixF y(a.rows, b.rows);
  linear_packed(a, amx::pack_b(b, g), scales_of(b), bias, tiles, y.data(), blocking);
  return y;
}

MatrixF linear_s8s4_amx(const Int8Matrix& a, const Int4Matrix& b, const float* bias, AmxTiles tiles,
                        const amx::Blocking& blocking) {
  const long g = validate_s8s4(a, b, "int8 x int4 GEMM");
  MatrixF y(a.rows, b.rows);
  // The int4 weights widened to q - zp (|q - zp| <= 15, exact in s8); their own scales feed the epilogue.
  linear_packed(a, amx::pack_b(int4_as_int8(b), g), scales_of(b), bias, tiles, y.data(), blocking);
  return y;
}

void linear_amx(const Int8Matrix& a, const Int8AmxWeights& b, const ScaleView& b_scales, const float* bias,
                AmxTiles tiles, float* y, const amx::Blocking& blocking) {
  if (!b.packed || a.cols != b.cols) {
    throw Error("int8 GEMM (prepacked weights): activations have " + std::to_string(a.cols) +
                " input channels, packed weights " + std::to_string(b.cols) + " (expected equal)");
  }
  linear_packed(a, *b.packed, b_scales, bias, tiles, y, blocking);
}

}  // namespace sqsim::kernels
