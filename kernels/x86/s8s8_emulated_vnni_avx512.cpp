// The kernel of s8s8_avx512vnni.cpp with vpdpbusd emulated by AVX-512BW
// (compiled with -mavx512f -mavx512bw ...). Not a dispatch target: it lets the
// packing, the +128 compensation and tails be tested on CPUs without VNNI.
#include "kernels/x86/s8s8_vnni_impl.h"

namespace sqsim::kernels::vnni {
namespace {

// Per 32-bit lane: acc + sum of 4 products u8 * s8, wrapping like vpdpbusd.
// Bytes are widened to 16 bits (u8 zero-extended, s8 sign-extended) and summed
// in pairs by vpmaddwd; |u8 * s8| <= 32640, so nothing saturates.
struct EmulatedDot {
  static inline __m512i dp_reg(__m512i acc, __m512i a_u8, __m512i b_s8) {
    const __m512i low = _mm512_set1_epi16(0x00FF);
    const __m512i a_even = _mm512_and_si512(a_u8, low);
    const __m512i a_odd = _mm512_srli_epi16(a_u8, 8);
    const __m512i b_even = _mm512_srai_epi16(_mm512_slli_epi16(b_s8, 8), 8);
    const __m512i b_odd = _mm512_srai_epi16(b_s8, 8);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(a_even, b_even));
    return _mm512_add_epi32(acc, _mm512_madd_epi16(a_odd, b_odd));
  }
  // The broadcast form of VnniDot::dp: 4 signed bytes at `a` against u8 b.
  static inline __m512i dp(__m512i acc, __m512i b_u8, const int32_t* a) {
    int32_t word;
    std::memcpy(&word, a, 4);
    return dp_reg(acc, b_u8, _mm512_set1_epi32(word));
  }
};

}  // namespace

void gemm_packed_avx512_emulated(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                                 int32_t* acc) {
  gemm_packed<EmulatedDot>(a, m_rows, b, a_comp, acc);
}

void gemm_packed_f32_avx512_emulated(const int8_t* a, long m_rows, const PackedBView& b, int32_t* a_comp,
                                     const EpilogueView& e, float* y) {
  gemm_packed_f32<EmulatedDot>(a, m_rows, b, a_comp, e, y);
}

}  // namespace sqsim::kernels::vnni
