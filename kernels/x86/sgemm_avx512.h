#pragma once
// Pieces of the AVX-512 sgemm (kernels/x86/sgemm_avx512.cpp) that kernels/sgemm.cpp
// runs in parallel. Call only when sgemm_avx512_available().
//
// Packed A: panels of sgemm_a_panel_rows() rows, panel p at ap + p*k*rows,
// element (r, kk) of the panel at [kk*rows + r]. Packed B: panels of
// sgemm_b_panel_cols() columns over all of K, the same way. Both zero padded.
#include "kernels/sgemm.h"

namespace sqsim::kernels {

long sgemm_a_panel_rows();
long sgemm_b_panel_cols();
// Packs panels [p0, p1) of A [m, k] / of B (n columns, k deep). pack_a
// returns false when a value it packed is Inf or NaN.
bool pack_a_panels_avx512(const float* a, long lda, long m, long k, long p0, long p1, float* ap);
void pack_b_panels_avx512(const float* b, long ldb, BLayout layout, long n, long k, long p0, long p1, float* bp);
// C[r0:r0+rows, c0:c0+cols] from packed A and B (r0 a multiple of the A panel
// rows, c0 of the B panel columns); bias indexed by the absolute column.
void sgemm_tile_avx512(const float* ap, const float* bp, long k, long m, long n, long r0, long rows, long c0,
                       long cols, float* c, long ldc, const float* bias);
// C [m, n] = A · B' (+ bias) with A [m, k] read in place (row stride lda), not
// packed, and B' the first k rows of depth of panels `bstride` floats apart:
// the same FMA chains, so the bits of sgemm_tile_avx512 on packed A.
void sgemm_rows_avx512(const float* a, long lda, const float* bp, long bstride, long k, long m, long n, float* c,
                       long ldc, const float* bias);
// The whole product g (g.b not read) on B already in panels `bp` (pack_b_panels_avx512,
// or panels a kernel made itself, e.g. dequantized int4 weights): A packed once,
// fixed tiles run with TBB, so the bits are those of sgemm_avx512 whatever the
// thread count. Needs the CPU's AVX-512F only (SQSIM_SGEMM is not consulted).
// `ap`: A already in panels (pack_a_panels_avx512 of g's A), else null and
// packed here.
void sgemm_panels_parallel(const SgemmArgs& g, const float* bp, const float* ap = nullptr);

}  // namespace sqsim::kernels
