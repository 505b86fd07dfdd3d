// AVX-512 VNNI int8 GEMM kernel. Compiled with -mavx512vnni (cmake/isa_flags.cmake);
// only called after the run-time feature check in kernels/kernel_path.cpp.
// Packing, validation and the epilogue live in avx512_path.cpp, compiled
// without AVX-512 flags.
//
// vpdpbusd multiplies unsigned u8 by signed s8. The kernel shifts each broadcast
// activation word to u = a + 128 (0..255; a byte XOR 0x80, one vpxord), so
// sum(u * b) = sum(a * b) + 128 * sum(b); the second
// term is precomputed per weight row and group and subtracted here. All of it is
// integer arithmetic modulo 2^32 and the true result fits int32 (validate_s8s8),
// so the accumulators equal the reference exactly.
#include "kernels/x86/s8s8_vnni_impl.h"

namespace sqsim::kernels::vnni {
namespace {

// vpdpbusd written as inline asm: with the intrinsic, GCC 12 copies every
// accumulator to a fresh register around each vpdpbusd (and, in the fused
// kernel, spilled a weight vector to the stack); the "+v" constraint keeps the
// accumulator in place. Same instruction, same result.
struct VnniDot {
  static inline __m512i dp(__m512i acc, __m512i a_u8, __m512i b_s8) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a_u8), "v"(b_s8));
    return acc;
  }
};

}  // namespace

void gemm_packed_avx512vnni(const int8_t* a, long m_rows, const PackedBView& b, int32_t* acc) {
  gemm_packed<VnniDot>(a, m_rows, b, acc);
}

void gemm_packed_f32_avx512vnni(const int8_t* a, long m_rows, const PackedBView& b, const EpilogueView& e,
                                float* y) {
  gemm_packed_f32<VnniDot>(a, m_rows, b, e, y);
}

}  // namespace sqsim::kernels::vnni
