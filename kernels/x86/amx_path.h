#pragma once
// The int8 functions of KernelPath::kAmx and kAmxEmulated at the Int8Matrix /
// Int4Matrix level (kernels/x86/amx_path.cpp, plain C++: validation, packing,
// epilogue tables) around the AMX kernel (kernels/x86/s8s8_amx.h). `tiles`
// picks the tile layer: kHardware needs amx_state().granted
// (kernels/cpu_features.h); kEmulated runs on every CPU. Every function returns
// exactly the reference's bits (kernels/gemm_reference.h) and throws the
// reference's errors.
#include <cstdint>
#include <memory>

#include "kernels/gemm_reference.h"
#include "kernels/int_weights.h"
#include "kernels/x86/s8s8_amx.h"
#include "base/tensor.h"

namespace sqsim::kernels {

namespace amx {
struct PackedB;
}

// kHardware: the real tiles, except that fewer than kAmxMinRows activation
// rows (kernels/kernel_path.h) run vpdpbusd on the same packed weights (the
// dispatched kAmx path). kEmulated: the tile emulator for every M (tests).
// kHardwareTiles / kRowsVnni: one of kHardware's two kernels forced for every
// M (tests, and gemm_bench's measurement of the threshold). kRowsVnni needs
// AVX-512 VNNI only; it applies to the fused products (linear_*), while
// gemm_s8s8s32_amx runs tiles for it like kHardwareTiles.
enum class AmxTiles { kHardware, kEmulated, kHardwareTiles, kRowsVnni };

// Weights packed once in the B tile layout (16 channels x 64 k per 1 KiB tile,
// VNNI-4 interleave) for one accumulator group size.
struct Int8AmxWeights {
  std::shared_ptr<const amx::PackedB> packed;
  long rows = 0, cols = 0, group_size = 0;
};
Int8AmxWeights pack_weights_amx(const Int8Matrix& b, long group_size);

// `blocking` (tile kernels only; tests and gemm_bench compare them): the walk
// over the tiles, amx::Blocking{} is the one the dispatched path runs. Every
// blocking returns the same bits.
// acc[(m * N + n) * G + g], identical to gemm_s8s8s32_reference (the caller validates).
void gemm_s8s8s32_amx(const Int8Matrix& a, const Int8Matrix& b, long group_size, AmxTiles tiles, int32_t* acc,
                      const amx::Blocking& blocking = {});
// GEMM + fused epilogue, identical to linear_s8s8_reference / linear_s8s4_reference
// (validate first, same errors); W4A8 widens the int4 weights to q - zp (exact in s8).
MatrixF linear_s8s8_amx(const Int8Matrix& a, const Int8Matrix& b, const float* bias, AmxTiles tiles,
                        const amx::Blocking& blocking = {});
MatrixF linear_s8s4_amx(const Int8Matrix& a, const Int4Matrix& b, const float* bias, AmxTiles tiles,
                        const amx::Blocking& blocking = {});
// On prepacked weights whose group size is the accumulator group of (a, weights)
// (the caller validates): y [a.rows, b.rows], weight scales read through b_scales.
void linear_amx(const Int8Matrix& a, const Int8AmxWeights& b, const ScaleView& b_scales, const float* bias,
                AmxTiles tiles, float* y, const amx::Blocking& blocking = {});

}  // namespace sqsim::kernels
