// Throwaway loop test for results/kernels/README.md (not part of the build): the
// int8 micro-kernel inner loop at K = 576 with operands in L1, as sqsim runs it
// (4 rows x 2 blocks, activations broadcast) against a swapped layout (16
// activation rows per vector, weights broadcast, 24 accumulators). Build and run:
//   g++ -O3 -mavx512f -mavx512bw -mavx512vl -mavx512vnni -o /tmp/swapped_layout_loop \
//       results/kernels/swapped_layout_loop.cpp && /tmp/swapped_layout_loop
#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <vector>
static inline __m512i dp(__m512i c, __m512i a, __m512i b) { asm("vpdpbusd %2, %1, %0" : "+v"(c) : "v"(a), "v"(b)); return c; }
static inline __m512i dpm(__m512i c, __m512i a, const int32_t* bq) { asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(c) : "v"(a), "m"(*bq)); return c; }
// (a) current: 4 rows x 2 blocks, A broadcast
__attribute__((noinline)) void cur(const uint8_t* a, long kp, const int8_t* b, long quads, int32_t* out) {
  __m512i c[4][2] = {};
  for (long q = 0; q < quads; ++q) {
    __m512i b0 = _mm512_loadu_si512(b + q * 128), b1 = _mm512_loadu_si512(b + q * 128 + 64);
    _Pragma("GCC unroll 16") for (int i = 0; i < 4; ++i) { int32_t w; std::memcpy(&w, a + i * kp + q * 4, 4); __m512i av = _mm512_set1_epi32(w); c[i][0] = dp(c[i][0], av, b0); c[i][1] = dp(c[i][1], av, b1); }
  }
  for (int i = 0; i < 4; ++i) for (int j = 0; j < 2; ++j) _mm512_storeu_si512(out + (i * 2 + j) * 16, c[i][j]);
}
// (b) swapped: 2 vectors of 16 rows (A as [quad][16 rows][4]), 12 channels with embedded broadcast of B quads ([quad][12][4])
__attribute__((noinline)) void swp(const uint8_t* a, const int32_t* b, long quads, int32_t* out) {
  __m512i c[2][12] = {};
  for (long q = 0; q < quads; ++q) {
    __m512i a0 = _mm512_loadu_si512(a + q * 128), a1 = _mm512_loadu_si512(a + q * 128 + 64);
    _Pragma("GCC unroll 16") for (int j = 0; j < 12; ++j) { c[0][j] = dpm(c[0][j], a0, b + q * 12 + j); c[1][j] = dpm(c[1][j], a1, b + q * 12 + j); }
  }
  for (int i = 0; i < 2; ++i) for (int j = 0; j < 12; ++j) _mm512_storeu_si512(out + (i * 12 + j) * 16, c[i][j]);
}
// (c) swapped with explicit broadcast register reused for both row vectors
__attribute__((noinline)) void swp2(const uint8_t* a, const int32_t* b, long quads, int32_t* out) {
  __m512i c[2][12] = {};
  for (long q = 0; q < quads; ++q) {
    __m512i a0 = _mm512_loadu_si512(a + q * 128), a1 = _mm512_loadu_si512(a + q * 128 + 64);
    _Pragma("GCC unroll 16") for (int j = 0; j < 12; ++j) { __m512i bv = _mm512_set1_epi32(b[q * 12 + j]); c[0][j] = dp(c[0][j], a0, bv); c[1][j] = dp(c[1][j], a1, bv); }
  }
  for (int i = 0; i < 2; ++i) for (int j = 0; j < 12; ++j) _mm512_storeu_si512(out + (i * 12 + j) * 16, c[i][j]);
}
int main() {
  const long quads = 144;  // K = 576
  std::vector<uint8_t> a(4 * 576 + 4096, 1), a2(quads * 128, 1);
  std::vector<int8_t> b(quads * 128, 1);
  std::vector<int32_t> bq(quads * 12, 1), out(1024);
  const long reps = 200000;
  for (int t = 0; t < 3; ++t) {
    auto t0 = std::chrono::steady_clock::now();
    for (long r = 0; r < reps; ++r) cur(a.data(), 576, b.data(), quads, out.data());
    auto t1 = std::chrono::steady_clock::now();
    for (long r = 0; r < reps; ++r) swp(a2.data(), bq.data(), quads, out.data());
    auto t2 = std::chrono::steady_clock::now();
    for (long r = 0; r < reps; ++r) swp2(a2.data(), bq.data(), quads, out.data());
    auto t3 = std::chrono::steady_clock::now();
    double s1 = std::chrono::duration<double>(t1 - t0).count(), s2 = std::chrono::duration<double>(t2 - t1).count(), s3 = std::chrono::duration<double>(t3 - t2).count();
    std::printf("cur %.1f GMAC/s  swp %.1f  swp2 %.1f\n", reps * quads * 8.0 * 64 / s1 * 1e-9, reps * quads * 24.0 * 64 / s2 * 1e-9, reps * quads * 24.0 * 64 / s3 * 1e-9);
  }
}
