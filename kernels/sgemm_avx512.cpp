// AVX-512F path of kernels/sgemm.h: the usual packed, cache-blocked scheme.
// B is packed into panels of 32 columns ([k][32], zero padded), A into panels
// of 12 rows ([k][12], zero padded); a 12x32 register tile (24 zmm
// accumulators) runs one FMA per (row, 16 columns, k). A K block is continued
// from the partial C it left (loaded back into the accumulators), so every C
// element is a single FMA chain over k in order: the result does not depend
// on the block sizes below nor on the tiling a caller chose.
// Compiled with -mavx512f; no Eigen here (see kernels/sgemm.cpp).
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/sgemm.h"

namespace sqsim::kernels {

namespace {

constexpr int kMr = 12;     // rows of the register tile
constexpr int kNr = 32;     // columns of the register tile (two zmm)
constexpr long kKc = 256;   // K block: a B micro-panel is kKc*32*4 = 32 KiB
constexpr long kMc = 192;   // A block kMc x kKc = 192 KiB, stays in L2
constexpr long kNc = 768;   // B block kKc x kNc = 768 KiB, stays in L2/L3

// Packs rows [0, rows) x k [0, kc) of A into panels of kMr rows: panel p holds
// ap[p*kc*kMr + k*kMr + i] = A(p*kMr + i, k), zero past `rows`.
void pack_a(const float* a, long lda, long rows, long kc, float* ap) {
  for (long p0 = 0; p0 < rows; p0 += kMr) {
    const long pr = std::min<long>(kMr, rows - p0);
    float* dst = ap + (p0 / kMr) * kc * kMr;
    if (pr == kMr) {
      for (long k = 0; k < kc; ++k)
        for (int i = 0; i < kMr; ++i) dst[k * kMr + i] = a[(p0 + i) * lda + k];
    } else {
      for (long k = 0; k < kc; ++k)
        for (int i = 0; i < kMr; ++i) dst[k * kMr + i] = i < pr ? a[(p0 + i) * lda + k] : 0.0f;
    }
  }
}

// Packs columns [0, cols) x k [0, kc) of B into panels of kNr columns:
// bp[p*kc*kNr + k*kNr + j] = B(k, p*kNr + j), zero past `cols`.
void pack_b(const float* b, long ldb, BLayout layout, long cols, long kc, float* bp) {
  for (long p0 = 0; p0 < cols; p0 += kNr) {
    const long pc = std::min<long>(kNr, cols - p0);
    float* dst = bp + (p0 / kNr) * kc * kNr;
    if (layout == BLayout::kKN) {
      const __mmask16 m0 = pc >= 16 ? 0xFFFF : __mmask16((1u << pc) - 1u);
      const __mmask16 m1 = pc >= 32 ? 0xFFFF : pc <= 16 ? 0 : __mmask16((1u << (pc - 16)) - 1u);
      for (long k = 0; k < kc; ++k) {
        const float* src = b + k * ldb + p0;
        _mm512_storeu_ps(dst + k * kNr, _mm512_maskz_loadu_ps(m0, src));
        _mm512_storeu_ps(dst + k * kNr + 16, _mm512_maskz_loadu_ps(m1, src + 16));
      }
    } else {
      // B is [N, K]: a transpose. Column j of the panel is row p0+j of B.
      for (long j = 0; j < kNr; ++j) {
        if (j < pc) {
          const float* src = b + (p0 + j) * ldb;
          for (long k = 0; k < kc; ++k) dst[k * kNr + j] = src[k];
        } else {
          for (long k = 0; k < kc; ++k) dst[k * kNr + j] = 0.0f;
        }
      }
    }
  }
}

// C tile (rows x cols, at most 12 x 32) += or = A panel · B panel over kc.
// `load` continues the chains from C; `bias` (null or 32 entries from the
// tile's first column) is added after the last K block.
inline void micro_12x32(long kc, const float* ap, const float* bp, float* c, long ldc, int rows, int cols,
                        bool load, const float* bias) {
  const __mmask16 m0 = cols >= 16 ? 0xFFFF : __mmask16((1u << cols) - 1u);
  const __mmask16 m1 = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : __mmask16((1u << (cols - 16)) - 1u);
  __m512 c0[kMr], c1[kMr];
#pragma GCC unroll 12
  for (int i = 0; i < kMr; ++i) {
    if (load && i < rows) {
      c0[i] = _mm512_maskz_loadu_ps(m0, c + i * ldc);
      c1[i] = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
    } else {
      c0[i] = _mm512_setzero_ps();
      c1[i] = _mm512_setzero_ps();
    }
  }
  for (long k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(bp + k * kNr), b1 = _mm512_loadu_ps(bp + k * kNr + 16);
    const float* a = ap + k * kMr;
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
  }
  __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
  if (bias) {
    bias0 = _mm512_maskz_loadu_ps(m0, bias);
    bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  }
#pragma GCC unroll 12
  for (int i = 0; i < kMr; ++i) {
    if (i < rows) {
      if (bias) {
        c0[i] = _mm512_add_ps(c0[i], bias0);
        c1[i] = _mm512_add_ps(c1[i], bias1);
      }
      _mm512_mask_storeu_ps(c + i * ldc, m0, c0[i]);
      _mm512_mask_storeu_ps(c + i * ldc + 16, m1, c1[i]);
    }
  }
}

struct Buffers {
  std::vector<float> a, b;
};

}  // namespace

void sgemm_avx512(const SgemmArgs& g) {
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) {
    for (long i = 0; i < g.m; ++i)
      for (long j = 0; j < g.n; ++j) g.c[i * g.ldc + j] = g.bias ? 0.0f + g.bias[j] : 0.0f;
    return;
  }
  thread_local Buffers buf;
  const long kc_max = std::min(kKc, g.k);
  const long nc_max = std::min(kNc, g.n), mc_max = std::min(kMc, g.m);
  const size_t need_b = size_t((nc_max + kNr - 1) / kNr * kNr * kc_max);
  const size_t need_a = size_t((mc_max + kMr - 1) / kMr * kMr * kc_max);
  if (buf.b.size() < need_b) buf.b.resize(need_b);
  if (buf.a.size() < need_a) buf.a.resize(need_a);
  for (long jc = 0; jc < g.n; jc += kNc) {
    const long nc = std::min(kNc, g.n - jc);
    for (long pc = 0; pc < g.k; pc += kKc) {
      const long kc = std::min(kKc, g.k - pc);
      const bool first = pc == 0, last = pc + kc == g.k;
      const float* bsrc = g.layout == BLayout::kNK ? g.b + jc * g.ldb + pc : g.b + pc * g.ldb + jc;
      pack_b(bsrc, g.ldb, g.layout, nc, kc, buf.b.data());
      for (long ic = 0; ic < g.m; ic += kMc) {
        const long mc = std::min(kMc, g.m - ic);
        pack_a(g.a + ic * g.lda + pc, g.lda, mc, kc, buf.a.data());
        for (long jr = 0; jr < nc; jr += kNr) {
          const int cols = int(std::min<long>(kNr, nc - jr));
          const float* bp = buf.b.data() + (jr / kNr) * kc * kNr;
          const float* bias = last && g.bias ? g.bias + jc + jr : nullptr;
          for (long ir = 0; ir < mc; ir += kMr) {
            const int rows = int(std::min<long>(kMr, mc - ir));
            micro_12x32(kc, buf.a.data() + (ir / kMr) * kc * kMr, bp, g.c + (ic + ir) * g.ldc + jc + jr, g.ldc,
                        rows, cols, !first, bias);
          }
        }
      }
    }
  }
}

}  // namespace sqsim::kernels
