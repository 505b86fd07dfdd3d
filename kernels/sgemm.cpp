// Dispatch and the portable (Eigen) path of kernels/sgemm.h. No Eigen code is
// compiled with AVX-512 flags: the fast path lives in sgemm_avx512.cpp and
// uses intrinsics only, so Eigen's template instantiations stay one kind.
#include "kernels/sgemm.h"

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/x86/sgemm_avx512.h"
#include "base/error.h"

namespace sqsim::kernels {

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor, 0, Eigen::OuterStride<>>;
using Map = Eigen::Map<RowMajor, 0, Eigen::OuterStride<>>;

// Fixed tile sizes for sgemm_parallel: never derived from the thread count.
constexpr long kTileRows = 192;   // a multiple of the AVX-512 kernel's 12 rows
constexpr long kTileCols = 192;   // a multiple of its 32 columns
constexpr long kPackChunk = 16;   // panels per packing task
constexpr long kEigenRowChunk = 64;

// b_packed: B comes packed, so g.b may be null (a layer that keeps only its
// packed weight).
void check(const SgemmArgs& g, bool b_packed = false) {
  if (g.m < 0 || g.n < 0 || g.k < 0) throw Error("sgemm: negative dimension");
  const long b_cols = g.layout == BLayout::kNK ? g.k : g.n;
  if ((g.m > 0 && g.k > 0 && (!g.a || g.lda < g.k)) ||
      (g.n > 0 && g.k > 0 && !b_packed && (!g.b || g.ldb < b_cols)) ||
      (g.m > 0 && g.n > 0 && (!g.c || g.ldc < g.n)))
    throw Error("sgemm: null pointer or row stride smaller than the row (m " + std::to_string(g.m) + ", n " +
                std::to_string(g.n) + ", k " + std::to_string(g.k) + ")");
}

SgemmArgs sub(const SgemmArgs& g, long r0, long rows, long c0, long cols) {
  SgemmArgs s = g;
  s.m = rows;
  s.n = cols;
  s.a = g.a + r0 * g.lda;
  s.b = g.layout == BLayout::kNK ? g.b + c0 * g.ldb : g.b + c0;
  s.c = g.c + r0 * g.ldc + c0;
  s.bias = g.bias ? g.bias + c0 : nullptr;
  return s;
}

}  // namespace

bool sgemm_avx512_available() {
  // SQSIM_SGEMM=eigen forces the portable path (to test it on an AVX-512 CPU);
  // read once, so the choice never changes within a process.
  static const bool available = [] {
    const char* env = std::getenv("SQSIM_SGEMM");
    const std::string want = env ? env : "auto";
    if (want != "auto" && want != "eigen" && want != "avx512")
      throw Error("SQSIM_SGEMM='" + want + "': expected auto, eigen or avx512");
    const bool cpu = cpu_features().avx512f;
    if (want == "avx512" && !cpu) throw Error("SQSIM_SGEMM=avx512: this CPU has no AVX-512F");
    return want != "eigen" && cpu;
  }();
  return available;
}

const char* sgemm_path() { return sgemm_avx512_available() ? "avx512" : "eigen"; }

void sgemm_portable(const SgemmArgs& g) {
  check(g);
  if (g.m == 0 || g.n == 0) return;
  Map c(g.c, g.m, g.n, Eigen::OuterStride<>(g.ldc));
  if (g.k == 0) {
    c.setZero();
  } else {
    const ConstMap a(g.a, g.m, g.k, Eigen::OuterStride<>(g.lda));
    if (g.layout == BLayout::kNK) {
      const ConstMap b(g.b, g.n, g.k, Eigen::OuterStride<>(g.ldb));
      c.noalias() = a * b.transpose();
    } else {
      const ConstMap b(g.b, g.k, g.n, Eigen::OuterStride<>(g.ldb));
      c.noalias() = a * b;
    }
  }
  if (g.bias) c.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(g.bias, g.n);
}

void sgemm(const SgemmArgs& g) {
  if (sgemm_avx512_available()) {
    check(g);
    sgemm_avx512(g);
  } else {
    sgemm_portable(g);
  }
}

PackedB pack_b(const float* b, long ldb, BLayout layout, long n, long k) {
  PackedB p;
  p.n = n;
  p.k = k;
  if (!sgemm_avx512_available() || n == 0 || k == 0) return p;
  const long nr = sgemm_b_panel_cols(), panels = (n + nr - 1) / nr;
  p.data.resize(size_t(panels * nr * k));
  tbb::parallel_for(tbb::blocked_range<long>(0, panels, kPackChunk), [&](const tbb::blocked_range<long>& r) {
    pack_b_panels_avx512(b, ldb, layout, n, k, r.begin(), r.end(), p.data.data());
  });
  return p;
}

void unpack_b(const PackedB& p, float* b) {
  if (p.empty()) throw Error("unpack_b: nothing packed");
  // pack_b_panels_avx512: element (row c0 + j, column kk) of panel c0 / nr
  // sits at panel * k * nr + kk * nr + j
  const long nr = sgemm_b_panel_cols();
  tbb::parallel_for(tbb::blocked_range<long>(0, p.n, 64), [&](const tbb::blocked_range<long>& r) {
    for (long row = r.begin(); row < r.end(); ++row) {
      const float* src = p.data.data() + (row / nr) * p.k * nr + row % nr;
      for (long kk = 0; kk < p.k; ++kk) b[row * p.k + kk] = src[kk * nr];
    }
  });
}

PackedA pack_a(const float* a, long lda, long m, long k) {
  PackedA p;
  p.m = m;
  p.k = k;
  if (!sgemm_avx512_available() || m == 0 || k == 0) return p;
  if (!a || lda < k) throw Error("pack_a: null pointer or row stride smaller than the row");
  const long mr = sgemm_a_panel_rows(), panels = (m + mr - 1) / mr;
  p.data.reset(new float[size_t(panels * mr * k)]);
  std::atomic<bool> finite{true};
  tbb::parallel_for(tbb::blocked_range<long>(0, panels, kPackChunk), [&](const tbb::blocked_range<long>& r) {
    if (!pack_a_panels_avx512(a, lda, m, k, r.begin(), r.end(), p.data.get())) finite = false;
  });
  p.finite = finite;
  return p;
}

void sgemm_parallel(const SgemmArgs& g, const PackedB* packed, const PackedA* packed_a) {
  const bool fast = sgemm_avx512_available();
  const bool have_a = packed_a && !packed_a->empty() && fast;
  if (have_a && (packed_a->m != g.m || packed_a->k != g.k))
    throw Error("sgemm: packed A is " + std::to_string(packed_a->m) + " x " + std::to_string(packed_a->k) +
                ", the product needs " + std::to_string(g.m) + " x " + std::to_string(g.k));
  check(g, packed && !packed->empty() && fast);
  if (g.m == 0 || g.n == 0) return;
  if (!fast) {
    // Eigen's own blocking depends on the shape, so the chunks are fixed rows.
    const long chunks = (g.m + kEigenRowChunk - 1) / kEigenRowChunk;
    tbb::parallel_for(tbb::blocked_range<long>(0, chunks, 1), [&](const tbb::blocked_range<long>& r) {
      for (long c = r.begin(); c < r.end(); ++c) {
        const long r0 = c * kEigenRowChunk;
        sgemm_portable(sub(g, r0, std::min(kEigenRowChunk, g.m - r0), 0, g.n));
      }
    });
    return;
  }
  if (packed && !packed->empty() && (packed->n != g.n || packed->k != g.k))
    throw Error("sgemm: packed B is " + std::to_string(packed->n) + " x " + std::to_string(packed->k) +
                ", the product needs " + std::to_string(g.n) + " x " + std::to_string(g.k));
  PackedB own;
  if (!packed || packed->empty()) {
    own = pack_b(g.b, g.ldb, g.layout, g.n, g.k);
    packed = &own;
  }
  sgemm_panels_parallel(g, packed->data.data(), have_a ? packed_a->data.get() : nullptr);
}

void sgemm_prefix(const SgemmArgs& g, const PackedB& b, ARead a_read) {
  if (b.empty() || g.n > b.n || g.k > b.k || g.m < 0 || g.n < 0 || g.k < 0 || (g.m > 0 && (!g.a || g.lda < g.k)) ||
      (g.m > 0 && g.n > 0 && (!g.c || g.ldc < g.n)))
    throw Error("sgemm_prefix: packed B is " + std::to_string(b.n) + " x " + std::to_string(b.k) +
                (b.empty() ? " (empty)" : "") + ", the product needs " + std::to_string(g.n) + " x " +
                std::to_string(g.k) + " of it, or a stride is short");
  if (g.m == 0 || g.n == 0) return;
  const long mr = sgemm_a_panel_rows(), nr = sgemm_b_panel_cols(), pa = (g.m + mr - 1) / mr;
  if (a_read == ARead::kInPlace) {
    sgemm_rows_avx512(g.a, g.lda, b.data.data(), b.k * nr, g.k, g.m, g.n, g.c, g.ldc, g.bias);
    return;
  }
  thread_local std::vector<float> ap;
  ap.resize(size_t(pa * mr * g.k));
  pack_a_panels_avx512(g.a, g.lda, g.m, g.k, 0, pa, ap.data());
  if (g.k == b.k) {
    sgemm_tile_avx512(ap.data(), b.data.data(), g.k, g.m, g.n, 0, g.m, 0, g.n, g.c, g.ldc, g.bias);
    return;
  }
  // A prefix of the depth: panel p is [b.k][nr], so its first g.k rows are the
  // prefix; one panel at a time, since the tile steps panels by g.k.
  for (long p = 0; p * nr < g.n; ++p)
    sgemm_tile_avx512(ap.data(), b.data.data() + p * b.k * nr, g.k, g.m, nr, 0, g.m, 0, std::min(nr, g.n - p * nr),
                      g.c + p * nr, g.ldc, g.bias ? g.bias + p * nr : nullptr);
}

void sgemm_panels_parallel(const SgemmArgs& g, const float* bp, const float* ap_given) {
  if (g.m == 0 || g.n == 0) return;
  // Pack A once for the whole product (unless the caller did), then run tiles.
  const long mr = sgemm_a_panel_rows(), pa = (g.m + mr - 1) / mr;
  // Not zero-filled: the packing writes every element, padding included (a
  // std::vector's fill was 1.4% of an evaluation's profile, on one thread).
  std::unique_ptr<float[]> own;
  if (!ap_given) {
    own.reset(new float[size_t(pa * mr * g.k)]);
    tbb::parallel_for(tbb::blocked_range<long>(0, pa, kPackChunk), [&](const tbb::blocked_range<long>& r) {
      pack_a_panels_avx512(g.a, g.lda, g.m, g.k, r.begin(), r.end(), own.get());
    });
  }
  const float* ap = ap_given ? ap_given : own.get();
  const long tr = (g.m + kTileRows - 1) / kTileRows, tc = (g.n + kTileCols - 1) / kTileCols;
  tbb::parallel_for(tbb::blocked_range2d<long>(0, tr, 1, 0, tc, 1), [&](const tbb::blocked_range2d<long>& r) {
    for (long i = r.rows().begin(); i < r.rows().end(); ++i)
      for (long j = r.cols().begin(); j < r.cols().end(); ++j) {
        const long r0 = i * kTileRows, c0 = j * kTileCols;
        sgemm_tile_avx512(ap, bp, g.k, g.m, g.n, r0, std::min(kTileRows, g.m - r0), c0,
                          std::min(kTileCols, g.n - c0), g.c, g.ldc, g.bias);
      }
  });
}

}  // namespace sqsim::kernels
