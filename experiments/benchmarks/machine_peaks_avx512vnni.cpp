// Machine ceilings for the GEMM benchmarks: the peak vpdpbusd rate of one core
// and a streaming-read memory bandwidth. Compiled with AVX-512 VNNI flags
// (experiments/benchmarks/CMakeLists.txt); gemm_bench only calls these after
// checking the CPU.
#include "machine_peaks.h"

#include <immintrin.h>

namespace bench {

int32_t vpdpbusd_loop(long iterations) {
  // 16 independent accumulators hide the instruction latency, so the loop is
  // bound by vpdpbusd throughput alone. Operands stay in registers.
  __m512i c[16];
  for (int i = 0; i < 16; ++i) c[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi32(0x01020304), b = _mm512_set1_epi32(0x05060708);
  for (long it = 0; it < iterations; ++it) {
    for (int i = 0; i < 16; ++i) c[i] = _mm512_dpbusd_epi32(c[i], a, b);
    __asm__ volatile("" : "+v"(c[0]), "+v"(c[1]), "+v"(c[2]), "+v"(c[3]), "+v"(c[4]), "+v"(c[5]), "+v"(c[6]),
                     "+v"(c[7]));
  }
  __m512i s = c[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_epi32(s, c[i]);
  return _mm512_reduce_add_epi32(s);
}

uint64_t stream_read(const uint8_t* p, size_t bytes) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 256 <= bytes; i += 256) {
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(p + i));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(p + i + 64));
    s2 = _mm512_add_epi64(s2, _mm512_load_si512(p + i + 128));
    s3 = _mm512_add_epi64(s3, _mm512_load_si512(p + i + 192));
  }
  return static_cast<uint64_t>(
      _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3))));
}

}  // namespace bench
