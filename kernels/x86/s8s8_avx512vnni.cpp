// AVX-512 VNNI int8 GEMM kernel. Compiled with -mavx512vnni (cmake/isa_flags.cmake);
// only called after the run-time feature check in kernels/kernel_path.cpp.
// Packing, validation and the epilogue live in avx512_path.cpp, compiled
// without AVX-512 flags.
//
// vpdpbusd multiplies unsigned u8 by signed s8. The weights are packed as
// u = b + 128 (0..255; pack_vnni.cpp) and the activation codes are the signed
// operand, so sum(u * a) = sum(a * b) + 128 * sum(a); the second term is
// computed per activation row and group (activation_comp) and the
// accumulators start at its negation. All of it is integer arithmetic modulo
// 2^32 and the true result fits int32 (validate_s8s8), so the accumulators
// equal the reference exactly.
#include "kernels/x86/s8s8_vnni_impl.h"

namespace sqsim::kernels::vnni {
namespace {

// vpdpbusd written as inline asm: with the intrinsic, GCC 12 copies every
// accumulator to a fresh register around each vpdpbusd (and, in the fused
// kernel, spilled a weight vector to the stack); the "+v" constraint keeps the
// accumulator in place. Same instruction, same result.
struct VnniDot {
  // acc + u8 b . s8 a, with the 4 activation bytes at `a` broadcast from memory
  // ({1to16}): the load rides in the vpdpbusd itself.
  static inline __m512i dp(__m512i acc, __m512i b_u8, const int32_t* a) {
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(b_u8), "m"(*a));
    return acc;
  }
  static inline __m512i dp_reg(__m512i acc, __m512i u8, __m512i s8) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
    return acc;
  }
};

}  // namespace

void gemm_packed_avx512vnni(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp, int32_t* acc) {
  gemm_packed<VnniDot>(a, m_rows, b, a_comp, acc);
}

void gemm_packed_f32_avx512vnni(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                                const EpilogueView& e, float* y) {
  gemm_packed_f32<VnniDot>(a, m_rows, b, a_comp, e, y);
}

void gemm_packed_f32_serial_avx512vnni(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                                       const EpilogueView& e, float* y) {
  gemm_packed_f32<VnniDot>(a, m_rows, b, a_comp, e, y, false);
}

}  // namespace sqsim::kernels::vnni
