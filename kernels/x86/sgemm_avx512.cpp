// AVX-512F path of kernels/sgemm.h: the usual packed, cache-blocked scheme.
// B is packed into panels of 32 columns ([k][32] over all of K, zero padded;
// a layer's weight is packed once), A once per product into panels of 12 rows
// ([k][12], zero padded); a 12x32 register tile (24 zmm
// accumulators) runs one FMA per (row, 16 columns, k). A K block is continued
// from the partial C it left (loaded back into the accumulators), so every C
// element is a single FMA chain over k in order: the result does not depend
// on the block sizes below nor on the tiling a caller chose.
// Blocking: within a K block, one A micro-panel (12 rows) stays in L1 while
// the B micro-panels of the tile's columns stream past it from L2, prefetched
// a few k ahead (B is the wider side, so it is the one worth prefetching).
// Compiled with -mavx512f; no Eigen here (see kernels/sgemm.cpp).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "kernels/x86/sgemm_avx512.h"

namespace sqsim::kernels {

namespace {

constexpr int kMr = 12;    // rows of the register tile
constexpr int kNr = 32;    // columns of the register tile (two zmm)
constexpr long kPfB = 16;  // prefetch distance for B, in k steps (2 KiB)

// The deepest K block: its A micro-panel (kMr x kc floats) fills at most 60%
// of the L1 data cache, the rest left to the streaming B and to C. 48 KiB L1
// (Sapphire Rapids) gives 614, so SmolLM2's K = 576 is one block (C written
// once); 32 KiB (Zen 4) gives 409. Fewer, deeper blocks measured 0.81 -> 0.9x
// oneDNN on the M = 512 shapes (gemm_bench, Xeon model 207).
long max_k_block() {
  static const long kc = [] {
    long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (l1 <= 0) l1 = 32 * 1024;
    return std::max<long>(64, l1 * 6 / 10 / long(kMr * sizeof(float)));
  }();
  return kc;
}

// C tile (rows x cols, at most 12 x 32) += or = A panel · B panel over kc.
// `load` continues the chains from C; `bias` (null or 32 entries from the
// tile's first column) is added after the last K block.
// kInPlace: A is not packed; element (i, k) is ap[min(i, rows - 1) * lda + k]
// (rows of the tile read where they lie; the missing rows of a short tile
// repeat its last row and are not stored). Packed: ap[k * kMr + i]. Either
// way each C element is the same FMA chain over k.
template <bool kInPlace>
inline void micro_12x32(long kc, const float* ap, long lda, const float* bp, float* c, long ldc, int rows, int cols,
                        bool load, const float* bias, const float* next_c) {
  // The next call's C rows arrive in L1 while this one computes.
  if (next_c)
    for (int i = 0; i < kMr; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(next_c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(next_c + i * ldc + 16), _MM_HINT_T0);
    }
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
    _mm_prefetch(reinterpret_cast<const char*>(bp + (k + kPfB) * kNr), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(bp + (k + kPfB) * kNr + 16), _MM_HINT_T0);
    if constexpr (kInPlace) {
#pragma GCC unroll 12
      for (int i = 0; i < kMr; ++i) {
        const __m512 ai = _mm512_set1_ps(ap[(i < rows ? i : rows - 1) * lda + k]);
        c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
      }
    } else {
      const float* a = ap + k * kMr;
#pragma GCC unroll 12
      for (int i = 0; i < kMr; ++i) {
        const __m512 ai = _mm512_set1_ps(a[i]);
        c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
      }
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

}  // namespace

long sgemm_a_panel_rows() { return kMr; }
long sgemm_b_panel_cols() { return kNr; }

bool pack_a_panels_avx512(const float* a, long lda, long m, long k, long p0, long p1, float* ap) {
  // Inf or NaN seen (fpclass: QNaN 0x01, +Inf 0x08, -Inf 0x10, SNaN 0x80;
  // scalar: an exponent of all ones), so that callers who must refuse
  // non-finite inputs need no second pass over them.
  __mmask16 bad = 0;
  uint32_t bad_scalar = 0;
  const auto note = [&bad_scalar](float v) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    bad_scalar |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  };
  for (long p = p0; p < p1; ++p) {
    const long r0 = p * kMr, pr = std::min<long>(kMr, m - r0);
    float* dst = ap + p * k * kMr;
    const float* src = a + r0 * lda;
    if (pr == kMr) {
      // Transpose 12 rows x 16 k at a time through a small buffer the
      // compiler keeps in registers; the rest scalar.
      long kk = 0;
      for (; kk + 16 <= k; kk += 16) {
        __m512 rows[kMr];
        for (int i = 0; i < kMr; ++i) {
          rows[i] = _mm512_loadu_ps(src + i * lda + kk);
          bad |= _mm512_fpclass_ps_mask(rows[i], 0x99);
        }
        alignas(64) float t[kMr][16];
        for (int i = 0; i < kMr; ++i) _mm512_store_ps(t[i], rows[i]);
        for (int j = 0; j < 16; ++j)
          for (int i = 0; i < kMr; ++i) dst[(kk + j) * kMr + i] = t[i][j];
      }
      for (; kk < k; ++kk)
        for (int i = 0; i < kMr; ++i) {
          const float v = src[i * lda + kk];
          note(v);
          dst[kk * kMr + i] = v;
        }
    } else {
      for (long kk = 0; kk < k; ++kk)
        for (int i = 0; i < kMr; ++i) {
          const float v = i < pr ? src[i * lda + kk] : 0.0f;
          note(v);
          dst[kk * kMr + i] = v;
        }
    }
  }
  return bad == 0 && bad_scalar == 0;
}

void pack_b_panels_avx512(const float* b, long ldb, BLayout layout, long n, long k, long p0, long p1, float* bp) {
  for (long p = p0; p < p1; ++p) {
    const long c0 = p * kNr, pc = std::min<long>(kNr, n - c0);
    float* dst = bp + p * k * kNr;
    if (layout == BLayout::kKN) {
      const __mmask16 m0 = pc >= 16 ? 0xFFFF : __mmask16((1u << pc) - 1u);
      const __mmask16 m1 = pc >= 32 ? 0xFFFF : pc <= 16 ? 0 : __mmask16((1u << (pc - 16)) - 1u);
      for (long kk = 0; kk < k; ++kk) {
        const float* src = b + kk * ldb + c0;
        _mm512_storeu_ps(dst + kk * kNr, _mm512_maskz_loadu_ps(m0, src));
        _mm512_storeu_ps(dst + kk * kNr + 16, _mm512_maskz_loadu_ps(m1, src + 16));
      }
    } else {
      // B is [N, K]: column j of the panel is row c0 + j of B.
      for (long j = 0; j < kNr; ++j) {
        const float* src = b + (c0 + j) * ldb;
        for (long kk = 0; kk < k; ++kk) dst[kk * kNr + j] = j < pc ? src[kk] : 0.0f;
      }
    }
  }
}

namespace {

// C[r0:r0+rows, c0:c0+cols] over depth k from A (packed panels, or rows in
// place with stride lda) and B panels `bstride` floats apart.
template <bool kInPlace>
void tile(const float* ap, long lda, const float* bp, long bstride, long k, long r0, long rows, long c0, long cols,
          float* c, long ldc, const float* bias) {
  if (rows <= 0 || cols <= 0) return;
  if (k == 0) {
    for (long i = r0; i < r0 + rows; ++i)
      for (long j = c0; j < c0 + cols; ++j) c[i * ldc + j] = bias ? 0.0f + bias[j] : 0.0f;
    return;
  }
  // K blocks of equal depth: with a 32 KiB L1 (at most 409), K = 576 is
  // 2 x 288, not 409 + 167
  const long blocks = (k + max_k_block() - 1) / max_k_block(), kb = (k + blocks - 1) / blocks;
  for (long pc = 0; pc < k; pc += kb) {
    const long kc = std::min(kb, k - pc);
    const bool first = pc == 0, last = pc + kc == k;
    for (long ir = r0; ir < r0 + rows; ir += kMr) {
      const int mr = int(std::min<long>(kMr, r0 + rows - ir));
      const float* a = kInPlace ? ap + ir * lda + pc : ap + (ir / kMr) * k * kMr + pc * kMr;
      for (long jr = c0; jr < c0 + cols; jr += kNr) {
        const int nc = int(std::min<long>(kNr, c0 + cols - jr));
        const float* next_c = jr + kNr < c0 + cols ? c + ir * ldc + jr + kNr
                              : ir + kMr < r0 + rows ? c + (ir + kMr) * ldc + c0 : nullptr;
        micro_12x32<kInPlace>(kc, a, lda, bp + (jr / kNr) * bstride + pc * kNr, c + ir * ldc + jr, ldc, mr, nc,
                              !first, last && bias ? bias + jr : nullptr, first ? nullptr : next_c);
      }
    }
  }
}

}  // namespace

void sgemm_tile_avx512(const float* ap, const float* bp, long k, long m, long n, long r0, long rows, long c0,
                       long cols, float* c, long ldc, const float* bias) {
  (void)m;
  (void)n;
  tile<false>(ap, 0, bp, k * kNr, k, r0, rows, c0, cols, c, ldc, bias);
}

void sgemm_rows_avx512(const float* a, long lda, const float* bp, long bstride, long k, long m, long n, float* c,
                       long ldc, const float* bias) {
  tile<true>(a, lda, bp, bstride, k, 0, m, 0, n, c, ldc, bias);
}

namespace {
struct Buffers {
  std::vector<float> a, b;
};
}  // namespace

void sgemm_avx512(const SgemmArgs& g) {
  if (g.m == 0 || g.n == 0) return;
  thread_local Buffers buf;
  const long pa = (g.m + kMr - 1) / kMr, pb = (g.n + kNr - 1) / kNr;
  if (buf.a.size() < size_t(pa * kMr * g.k)) buf.a.resize(size_t(pa * kMr * g.k));
  if (buf.b.size() < size_t(pb * kNr * g.k)) buf.b.resize(size_t(pb * kNr * g.k));
  pack_a_panels_avx512(g.a, g.lda, g.m, g.k, 0, pa, buf.a.data());
  pack_b_panels_avx512(g.b, g.ldb, g.layout, g.n, g.k, 0, pb, buf.b.data());
  sgemm_tile_avx512(buf.a.data(), buf.b.data(), g.k, g.m, g.n, 0, g.m, 0, g.n, g.c, g.ldc, g.bias);
}

}  // namespace sqsim::kernels
