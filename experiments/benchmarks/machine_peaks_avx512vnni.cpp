// Machine ceilings for the GEMM benchmarks: the peak vpdpbusd rate of one core
// and a streaming-read memory bandwidth. Compiled with AVX-512 VNNI flags
// (experiments/benchmarks/CMakeLists.txt); gemm_bench only calls these after
// checking the CPU.
#include "machine_peaks.h"

#include <immintrin.h>

namespace bench {

// The peak loops are inline assembly so that what runs is exactly what is
// measured. (The former intrinsics version kept its 16 accumulators in a stack
// array: GCC reloaded and stored every accumulator on each iteration, so each
// chain ran through store-to-load forwarding and the loop measured that latency,
// about half the real rate; GEMMs then "beat" the peak.) Here 24 accumulators
// (zmm0-23 / ymm0-23) are independent chains and stay in registers; the operands
// are two fixed registers. 24 chains cover latency x throughput with room to spare
// (vpdpbusd latency is about 4-5 cycles; Zen 4 and Intel server cores issue one
// 512-bit or two 256-bit vpdpbusd per cycle), so the loop is bound by vpdpbusd
// throughput alone. The loop counter adds one dec/jnz per 24 vpdpbusd.
#define SQSIM_DP_ACCS "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23"
#define SQSIM_DP_CLOBBERS                                                                                        \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", \
      "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",       \
      "xmm30", "xmm31", "cc"

int32_t vpdpbusd_loop(long iterations) {
  if (iterations <= 0) return 0;
  int32_t sum;
  long n = iterations;
  __asm__ volatile(
      "vpbroadcastd %[a], %%zmm30\n\t"
      "vpbroadcastd %[b], %%zmm31\n\t"
      ".irp r," SQSIM_DP_ACCS "\n\t"
      "vpxord %%zmm\\r, %%zmm\\r, %%zmm\\r\n\t"
      ".endr\n\t"
      ".p2align 5\n"
      "1:\n\t"
      ".irp r," SQSIM_DP_ACCS "\n\t"
      "vpdpbusd %%zmm31, %%zmm30, %%zmm\\r\n\t"
      ".endr\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      ".irp r,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23\n\t"
      "vpaddd %%zmm\\r, %%zmm0, %%zmm0\n\t"
      ".endr\n\t"
      "vmovd %%xmm0, %[sum]\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n), [sum] "=r"(sum)
      : [a] "r"(0x01020304), [b] "r"(0x05060708)
      : SQSIM_DP_CLOBBERS);
  return sum;
}

int32_t vpdpbusd_ymm_loop(long iterations) {
  if (iterations <= 0) return 0;
  int32_t sum;
  long n = iterations;
  __asm__ volatile(
      "vpbroadcastd %[a], %%ymm30\n\t"
      "vpbroadcastd %[b], %%ymm31\n\t"
      ".irp r," SQSIM_DP_ACCS "\n\t"
      "vpxord %%ymm\\r, %%ymm\\r, %%ymm\\r\n\t"
      ".endr\n\t"
      ".p2align 5\n"
      "1:\n\t"
      ".irp r," SQSIM_DP_ACCS "\n\t"
      "vpdpbusd %%ymm31, %%ymm30, %%ymm\\r\n\t"
      ".endr\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      ".irp r,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23\n\t"
      "vpaddd %%ymm\\r, %%ymm0, %%ymm0\n\t"
      ".endr\n\t"
      "vmovd %%xmm0, %[sum]\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(n), [sum] "=r"(sum)
      : [a] "r"(0x01020304), [b] "r"(0x05060708)
      : SQSIM_DP_CLOBBERS);
  return sum;
}

#undef SQSIM_DP_ACCS
#undef SQSIM_DP_CLOBBERS

uint64_t stream_read(const uint8_t* p, size_t bytes) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 256 <= bytes; i += 256) {
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(p + i));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(p + i + 64));
    s2 = _mm512_add_epi64(s2, _mm512_load_si512(p + i + 128));
    s3 = _mm512_add_epi64(s3, _mm512_load_si512(p + i + 192));
  }
  // Summed through memory: GCC 12 warns that _mm512_reduce_add_epi64's
  // helper reads an undefined vector (-Wuninitialized, a false positive).
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)));
  uint64_t sum = 0;
  for (uint64_t v : lanes) sum += v;
  return sum;
}

}  // namespace bench
