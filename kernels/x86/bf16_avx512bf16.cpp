// vcvtneps2bf16 rounds to nearest even and quiets NaNs exactly like
// bf16_round, except that it treats subnormal inputs as zero (Intel SDM; seen
// on this project's Zen 4 too: 0x007FFFFF gives 0x0000, bf16_round 0x0080).
// Lanes whose exponent field is 0 (zeros and subnormals) therefore take the
// integer rounding of bf16_round instead; for zeros both give the signed zero.
// GCC 12 (notably with -fsanitize) reports false -W(maybe-)uninitialized warnings inside
// avx512fintrin.h for intrinsics whose unmasked form passes _mm512_undefined_*.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/x86/bf16_avx512bf16.h"

#include <immintrin.h>

namespace sqsim::kernels {

namespace {

// 16 floats (mask m) -> 16 bf16 bit patterns.
inline __m256i convert16(__mmask16 m, const float* in) {
  const __m512 v = _mm512_maskz_loadu_ps(m, in);
  __m256i r = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v));  // same 256 bits
  const __m512i u = _mm512_castps_si512(v);
  const __mmask16 tiny = _mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7F800000));
  if (tiny) {
    // (u + 0x7FFF + ((u >> 16) & 1)) >> 16, as in bf16_round (no NaN here).
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i rne = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), odd), 16);
    r = _mm256_mask_mov_epi16(r, tiny, _mm512_cvtepi32_epi16(rne));
  }
  return r;
}

}  // namespace

void to_bf16_avx512bf16(const float* in, long n, uint16_t* out) {
  long i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), convert16(0xFFFF, in + i));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm256_mask_storeu_epi16(out + i, m, convert16(m, in + i));
  }
}

}  // namespace sqsim::kernels
