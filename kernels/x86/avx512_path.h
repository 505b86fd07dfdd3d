#pragma once
// The AVX-512 functions of KernelPath::kAvx512Vnni at the Int8Matrix /
// Int4Matrix level (defined in kernels/x86/avx512_path.cpp, plain C++:
// packing, validation and the epilogue tables): the int8 GEMM on VNNI
// (kernels/x86/s8s8_avx512vnni.cpp), the same with vpdpbusd emulated
// (s8s8_emulated_vnni_avx512.cpp) and W4A16 on the AVX-512F float GEMM
// (sgemm_avx512.cpp). Declared with plain types only, so this header is
// includable from code compiled without AVX-512 flags; call these only when
// the CPU has the features (cpu_features()).
// Every function returns exactly the bits of the reference path
// (kernels/gemm_reference.h). The linear_* functions validate their operands
// (validate_s8s8 / validate_s8s4, the reference's checks and messages); callers
// of the gemm_* functions run those checks first, as with the reference.
#include <cstdint>
#include <memory>

#include "kernels/bf16.h"
#include "kernels/gemm_reference.h"
#include "kernels/int_weights.h"
#include "kernels/kernel_path.h"
#include "base/tensor.h"

namespace sqsim::kernels {

struct PackedA;       // kernels/sgemm.h
struct W4A16Panels;  // kernels/x86/w4a16_panels.h

namespace vnni {
struct PackedB;
}

// Weights packed once for the VNNI kernel (16 channels x 4 k blocks, plus the
// +128 compensation sums), for a given accumulator group size.
struct Int8PackedWeights {
  std::shared_ptr<const vnni::PackedB> packed;
  long rows = 0, cols = 0, group_size = 0;
};
Int8PackedWeights pack_weights_avx512vnni(const Int8Matrix& b, long group_size);
// The same accumulators as gemm_s8s8s32_avx512vnni, from prepacked weights
// (throws sqsim::Error when a's K differs from the packed weights').
void gemm_s8s8s32_avx512vnni(const Int8Matrix& a, const Int8PackedWeights& b, int32_t* acc);

// GEMM + fused epilogue on prepacked weights whose group size is the accumulator
// group of (a, weights) (the caller validates, e.g. validate_s8s8 on the source
// matrix): y [a.rows, b.rows] gets exactly linear_*_reference's bits, with the
// weights' scales read through b_scales (scales_of the source Int8/Int4 matrix).
void linear_avx512vnni(const Int8Matrix& a, const Int8PackedWeights& b, const ScaleView& b_scales, const float* bias,
                       float* y);

// acc[(m * N + n) * G + g], identical to gemm_s8s8s32_reference. Needs
// avx512f, avx512bw, avx512vl and avx512vnni.
void gemm_s8s8s32_avx512vnni(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc);
// GEMM + epilogue, identical to linear_s8s8_reference (validates first, same
// errors). The epilogue is fused into the kernel (kernels/x86/epilogue.h):
// no int32 accumulator buffer is written.
MatrixF linear_s8s8_avx512vnni(const Int8Matrix& a, const Int8Matrix& b, const float* bias);

// W4A8: int8 activations x int4 weights. The weights are unpacked to
// w = q - zp (|w| <= 15, fits int8) and run through the same kernel, so the
// accumulators equal gemm_s8s4s32_reference. linear_s8s4_avx512vnni validates
// with validate_s8s4 first and equals linear_s8s4_reference bit for bit.
void gemm_s8s4s32_avx512vnni(const Int8Matrix& a, const Int4Matrix& b, long group_size, int32_t* acc);
MatrixF linear_s8s4_avx512vnni(const Int8Matrix& a, const Int4Matrix& b, const float* bias);

// W4A16: float activations x int4 weights with AVX-512F; equals
// linear_f32s4_reference bit for bit. Dispatched as part of the avx512-vnni and
// amx paths. The weights are dequantized into the float GEMM's B panels
// (kernels/sgemm.h) and run through its tiles: one FMA chain per output, the
// documented order (docs/quantization.md, "int4 weights").
MatrixF linear_f32s4_avx512(const MatrixF& x, const Int4Matrix& b, const float* bias);
// `kernel` is accepted for the tests and benchmarks that name one; every value runs the same kernel.
MatrixF linear_f32s4_avx512(const MatrixF& x, const Int4Matrix& b, const float* bias, W4A16Kernel kernel);
// The same with x already packed (kernels::pack_a of x; null or empty: packed
// here), and with the weights already in panel order (pack_s4_weights). With
// the panels x may be short of b's depth by less than a group: its missing
// columns are +0 (kernels/gemm.h), which the chain skips (same bits).
MatrixF linear_f32s4_avx512(const MatrixF& x, const Int4Matrix& b, const float* bias, const PackedA* packed_a);
MatrixF linear_f32s4_avx512(const MatrixF& x, const W4A16Panels& b, const float* bias, const PackedA* packed_a);

// W4A16 on bfloat16 activations: widened to float32 (exact), then the float
// kernel; equals linear_f32s4_reference(widen_bf16(x), b, bias) bit for bit.
MatrixF linear_bf16s4_avx512(const Bf16Matrix& x, const Int4Matrix& b, const float* bias,
                             W4A16Kernel kernel = W4A16Kernel::kAuto);

// The same kernel with vpdpbusd emulated by AVX-512BW instructions
// (kernels/x86/s8s8_emulated_vnni_avx512.cpp). Not a dispatch target: it lets the
// packing, offset compensation and tail handling be tested bit for bit on CPUs
// that have AVX-512BW but no VNNI. Needs avx512f and avx512bw.
void gemm_s8s8s32_avx512_emulated_vnni(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc);
// linear_s8s8_avx512vnni (fused epilogue included) with the emulated vpdpbusd.
MatrixF linear_s8s8_avx512_emulated_vnni(const Int8Matrix& a, const Int8Matrix& b, const float* bias);

}  // namespace sqsim::kernels
