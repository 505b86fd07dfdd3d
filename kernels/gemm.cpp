#include "kernels/gemm.h"

#include "kernels/x86/w4a16_panels.h"

#include <vector>

#include "kernels/x86/pack_pmaddwd.h"
#include "kernels/x86/avx512_path.h"
#include "kernels/x86/avx2_path.h"
#include "kernels/x86/amx_path.h"
#include "kernels/x86/w4a16_panels.h"
#include "kernels/gemm_reference.h"
#include "base/error.h"

namespace sqsim::kernels {

MatrixF linear_s8s8(const Int8Matrix& a, const Int8Matrix& b, const float* bias, KernelPath path) {
  switch (resolve_kernel_path(path)) {
    // validates with validate_s8s8 first, exactly like the reference
    case KernelPath::kAmx: return linear_s8s8_amx(a, b, bias, AmxTiles::kHardware);
    case KernelPath::kAmxEmulated: return linear_s8s8_amx(a, b, bias, AmxTiles::kEmulated);
    case KernelPath::kAvx512Vnni: return linear_s8s8_avx512vnni(a, b, bias);
    case KernelPath::kAvx2: return linear_s8s8_avx2(a, b, bias);
    default: return linear_s8s8_reference(a, b, bias);
  }
}

MatrixF linear_s8s4(const Int8Matrix& a, const Int4Matrix& b, const float* bias, KernelPath path) {
  switch (resolve_kernel_path(path)) {
    // validates with validate_s8s4 first, exactly like the reference
    case KernelPath::kAmx: return linear_s8s4_amx(a, b, bias, AmxTiles::kHardware);
    case KernelPath::kAmxEmulated: return linear_s8s4_amx(a, b, bias, AmxTiles::kEmulated);
    case KernelPath::kAvx512Vnni: return linear_s8s4_avx512vnni(a, b, bias);
    case KernelPath::kAvx2: return linear_s8s4_avx2(a, b, bias);
    default: return linear_s8s4_reference(a, b, bias);
  }
}

MatrixF linear_f32s4(const MatrixF& x, const Int4Matrix& b, const float* bias, KernelPath path) {
  switch (resolve_kernel_path(path)) {
    // AMX has no float x int4 product: the AVX-512 kernels (every AMX CPU has them).
    case KernelPath::kAmx:
    case KernelPath::kAvx512Vnni: return linear_f32s4_avx512(x, b, bias);
    case KernelPath::kAvx2: return linear_f32s4_avx2(x, b, bias);
    default: return linear_f32s4_reference(x, b, bias);
  }
}

MatrixF linear_bf16s4(const Bf16Matrix& x, const Int4Matrix& b, const float* bias, KernelPath path) {
  switch (resolve_kernel_path(path)) {
    case KernelPath::kAmx:
    case KernelPath::kAvx512Vnni: return linear_bf16s4_avx512(x, b, bias);
    // AVX2 widens the whole matrix first, then runs the float kernels (same bits).
    case KernelPath::kAvx2: return linear_f32s4_avx2(widen_bf16(x), b, bias);
    default: return linear_f32s4_reference(widen_bf16(x), b, bias);
  }
}

namespace {

bool is_amx(KernelPath p) { return p == KernelPath::kAmx || p == KernelPath::kAmxEmulated; }

AmxTiles amx_tiles(KernelPath p) { return p == KernelPath::kAmx ? AmxTiles::kHardware : AmxTiles::kEmulated; }

}  // namespace

PackedS8Weights pack_s8_weights(const Int8Matrix& b, KernelPath path) {
  PackedS8Weights w;
  w.path = resolve_kernel_path(path);
  w.source = std::make_shared<const Int8Matrix>(b);
  if (w.path == KernelPath::kAvx512Vnni) w.vnni = pack_weights_avx512vnni(b, b.group_size);
  if (w.path == KernelPath::kAvx2) w.avx2 = std::make_shared<const avx2::PackedB>(avx2::pack_b(b, b.group_size));
  if (is_amx(w.path)) w.amx = pack_weights_amx(b, b.group_size);
  return w;
}

PackedS4Weights pack_s4_weights(const Int4Matrix& b, KernelPath path, S4Use use) {
  PackedS4Weights w;
  w.path = resolve_kernel_path(path);
  w.source = std::make_shared<const Int4Matrix>(b);
  const bool w4a8 = static_cast<int>(use) & static_cast<int>(S4Use::kW4A8);
  const bool w4a16 = static_cast<int>(use) & static_cast<int>(S4Use::kW4A16);
  if (w.path == KernelPath::kAvx512Vnni && w4a8) w.vnni = pack_weights_avx512vnni(int4_as_int8(b), b.group_size);
  if (is_amx(w.path) && w4a8) w.amx = pack_weights_amx(int4_as_int8(b), b.group_size);
  // W4A16 dequantizes into the float GEMM's panels per call, from codes kept in their order.
  if (w4a16 && (w.path == KernelPath::kAvx512Vnni || w.path == KernelPath::kAmx))
    w.f32 = std::make_shared<const W4A16Panels>(make_w4a16_panels(int4_view(b)));
  if (w.path == KernelPath::kAvx2 && w4a8) {
    w.avx2 = std::make_shared<const avx2::PackedB>(avx2::pack_b(int4_as_int8(b), b.group_size));
  }
  return w;
}

namespace {

const char* kNotPacked = "packed weights: empty (make them with pack_s8_weights / pack_s4_weights)";

}  // namespace

MatrixF linear_s8s8(const Int8Matrix& a, const PackedS8Weights& b, const float* bias) {
  if (!b.source) throw Error(kNotPacked);
  const Int8Matrix& src = *b.source;
  const long g = validate_s8s8(a, src, "int8 GEMM");
  if (b.path == KernelPath::kReference) return linear_s8s8_reference(a, src, bias);
  // Every optimized path fuses the epilogue into its kernel: no accumulator buffer.
  if (is_amx(b.path)) {
    MatrixF y(a.rows, src.rows);
    const bool reuse = b.amx.packed && b.amx.group_size == g;
    linear_amx(a, reuse ? b.amx : pack_weights_amx(src, g), scales_of(src), bias, amx_tiles(b.path), y.data());
    return y;
  }
  if (b.path == KernelPath::kAvx512Vnni) {
    MatrixF y(a.rows, src.rows);
    const bool reuse = b.vnni.packed && b.vnni.group_size == g;
    linear_avx512vnni(a, reuse ? b.vnni : pack_weights_avx512vnni(src, g), scales_of(src), bias, y.data());
    return y;
  }
  // kAvx2. The packing is reused when made for accumulator group g (the usual
  // case), else the weights are packed for g on the fly.
  MatrixF y(a.rows, src.rows);
  if (b.avx2 && b.avx2->gs == g) linear_avx2(a, *b.avx2, scales_of(src), bias, y.data());
  else linear_avx2(a, avx2::pack_b(src, g), scales_of(src), bias, y.data());
  return y;
}

MatrixF linear_s8s4(const Int8Matrix& a, const PackedS4Weights& b, const float* bias) {
  if (!b.source) throw Error(kNotPacked);
  const Int4Matrix& src = *b.source;
  const long g = validate_s8s4(a, src, "int8 x int4 GEMM");
  if (b.path == KernelPath::kReference) return linear_s8s4_reference(a, src, bias);
  if (is_amx(b.path)) {
    MatrixF y(a.rows, src.rows);
    const bool reuse = b.amx.packed && b.amx.group_size == g;
    linear_amx(a, reuse ? b.amx : pack_weights_amx(int4_as_int8(src), g), scales_of(src), bias, amx_tiles(b.path),
               y.data());
    return y;
  }
  if (b.path == KernelPath::kAvx512Vnni) {
    MatrixF y(a.rows, src.rows);
    const bool reuse = b.vnni.packed && b.vnni.group_size == g;
    linear_avx512vnni(a, reuse ? b.vnni : pack_weights_avx512vnni(int4_as_int8(src), g), scales_of(src), bias,
                      y.data());
    return y;
  }
  MatrixF y(a.rows, src.rows);
  if (b.avx2 && b.avx2->gs == g) linear_avx2(a, *b.avx2, scales_of(src), bias, y.data());
  else linear_avx2(a, avx2::pack_b(int4_as_int8(src), g), scales_of(src), bias, y.data());
  return y;
}

MatrixF linear_f32s4(const MatrixF& x, const PackedS4Weights& b, const float* bias, const PackedA* packed_a) {
  if (!b.source) throw Error(kNotPacked);
  // x short of the weights' depth by part of a group: the missing columns are
  // +0 (a ragged last group, padded by pad_columns); the AVX-512 panels skip
  // them (same bits), the other paths get them written.
  const long kx = x.cols(), kb = b.cols();
  const bool short_x = kx < kb && kx > kb - b.source->group_size;
  if (b.f32 && (kx == kb || short_x)) return linear_f32s4_avx512(x, *b.f32, bias, packed_a);
  if (short_x) {
    MatrixF xp = MatrixF::Zero(x.rows(), kb);
    xp.leftCols(kx) = x;
    return linear_f32s4(xp, *b.source, bias, b.path);
  }
  return linear_f32s4(x, *b.source, bias, b.path);  // equal depths, or the reference's error
}

MatrixF linear_bf16s4(const Bf16Matrix& x, const PackedS4Weights& b, const float* bias) {
  if (!b.source) throw Error(kNotPacked);
  return linear_bf16s4(x, *b.source, bias, b.path);
}

}  // namespace sqsim::kernels
