// Float32 GEMM of the forward pass (kernels/sgemm.h) against a float64
// reference on odd shapes, both B layouts, strided rows and bias; the AVX-512
// path's bits must not depend on tiling or threads; the vector exp, softmax
// and SiLU against std::exp; blocked causal attention against float64.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "base/error.h"
#include "kernels/sgemm.h"
#include "kernels/vecmath.h"
#include "sim/models/attention.h"

namespace sqsim::kernels {
namespace {

struct Case {
  long m, n, k;
};

std::vector<float> randv(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A [m, k] with row stride k+3, B with row stride (its row) + 5, C stride n+2:
// strides that are not the row length catch indexing mistakes.
struct Problem {
  long m, n, k, lda, ldb, ldc;
  BLayout layout;
  std::vector<float> a, b, bias;
  Problem(Case c, BLayout l, bool with_bias, unsigned seed) : m(c.m), n(c.n), k(c.k), layout(l) {
    lda = k + 3;
    ldb = (l == BLayout::kNK ? k : n) + 5;
    ldc = n + 2;
    a = randv(size_t(m * lda), seed);
    b = randv(size_t((l == BLayout::kNK ? n : k) * ldb), seed + 1);
    if (with_bias) bias = randv(size_t(n), seed + 2);
  }
  float bv(long kk, long j) const { return layout == BLayout::kNK ? b[j * ldb + kk] : b[kk * ldb + j]; }
  SgemmArgs args(std::vector<float>& c) const {
    c.assign(size_t(std::max<long>(m, 1) * ldc), -7.0f);
    SgemmArgs g;
    g.m = m, g.n = n, g.k = k, g.a = a.data(), g.lda = lda, g.b = b.data(), g.ldb = ldb, g.layout = layout;
    g.c = c.data(), g.ldc = ldc, g.bias = bias.empty() ? nullptr : bias.data();
    return g;
  }
  // Float64 product; the allowed error of a float32 sum of k products is
  // about k * 2^-24 * sum |a b| (plus one rounding of the bias add).
  void expect_close(const std::vector<float>& c, const char* path) const {
    for (long i = 0; i < m; ++i)
      for (long j = 0; j < n; ++j) {
        double ref = 0, mag = 0;
        for (long kk = 0; kk < k; ++kk) {
          const double p = double(a[i * lda + kk]) * bv(kk, j);
          ref += p;
          mag += std::abs(p);
        }
        if (!bias.empty()) {
          ref += bias[j];
          mag += std::abs(bias[j]);
        }
        const double tol = (double(k) + 2.0) * 6e-8 * mag + 1e-30;
        ASSERT_NEAR(c[i * ldc + j], ref, tol) << path << " m " << m << " n " << n << " k " << k << " at (" << i
                                              << ", " << j << ")";
      }
    // Padding past each row of C is untouched.
    for (long i = 0; i < m; ++i)
      for (long j = n; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], -7.0f) << path << " wrote past the row";
  }
};

const Case kCases[] = {{1, 1, 1},    {1, 17, 33},  {1, 576, 576}, {3, 5, 7},      {12, 32, 16},
                       {13, 33, 17}, {25, 70, 300}, {37, 200, 513}, {200, 45, 260}, {211, 801, 64}};

TEST(Sgemm, PortableMatchesFloat64) {
  unsigned seed = 1;
  for (const Case& c : kCases)
    for (BLayout l : {BLayout::kNK, BLayout::kKN})
      for (bool bias : {false, true}) {
        Problem p(c, l, bias, seed += 3);
        std::vector<float> out;
        sgemm_portable(p.args(out));
        p.expect_close(out, "eigen");
      }
}

TEST(Sgemm, Avx512MatchesFloat64) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "no AVX-512F on this CPU";
  unsigned seed = 100;
  for (const Case& c : kCases)
    for (BLayout l : {BLayout::kNK, BLayout::kKN})
      for (bool bias : {false, true}) {
        Problem p(c, l, bias, seed += 3);
        std::vector<float> out;
        sgemm_avx512(p.args(out));
        p.expect_close(out, "avx512");
      }
}

// docs/memory.md's definition: each element is one FMA chain from +0.0 over
// k in order, then + bias. K = 1500 spans several K blocks on any cache size
// (the blocks continue the chain from C, never sum partial results).
TEST(Sgemm, Avx512IsTheFmaChain) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "no AVX-512F on this CPU";
  for (const Case& c : {Case{29, 70, 1500}, Case{13, 33, 577}})
    for (BLayout l : {BLayout::kNK, BLayout::kKN}) {
      Problem p(c, l, true, 211);
      std::vector<float> out;
      sgemm_parallel(p.args(out));
      for (long i = 0; i < p.m; ++i)
        for (long j = 0; j < p.n; ++j) {
          float acc = 0.0f;
          for (long kk = 0; kk < p.k; ++kk) acc = std::fma(p.a[i * p.lda + kk], p.bv(kk, j), acc);
          acc += p.bias[j];
          ASSERT_EQ(0, std::memcmp(&acc, &out[i * p.ldc + j], sizeof(float)))
              << "k " << p.k << " at (" << i << ", " << j << "): " << acc << " vs " << out[i * p.ldc + j];
        }
    }
}

TEST(Sgemm, ZeroKGivesBias) {
  Problem p({4, 5, 0}, BLayout::kNK, true, 9);
  std::vector<float> out;
  sgemm(p.args(out));
  for (long i = 0; i < 4; ++i)
    for (long j = 0; j < 5; ++j) EXPECT_EQ(out[i * p.ldc + j], p.bias[j]);
}

TEST(Sgemm, RejectsShortStride) {
  Problem p({4, 5, 6}, BLayout::kNK, false, 9);
  std::vector<float> out;
  SgemmArgs g = p.args(out);
  g.lda = 5;
  EXPECT_THROW(sgemm(g), std::exception);
  EXPECT_THROW(sgemm_parallel(g), std::exception);
}

// On the AVX-512 path an element is one FMA chain over k: the parallel split,
// the thread count and a caller's own sub-blocking give identical bits.
TEST(Sgemm, BitsDoNotDependOnTilingOrThreads) {
  for (BLayout l : {BLayout::kNK, BLayout::kKN}) {
    Problem p({437, 390, 700}, l, true, 77);
    std::vector<float> whole, one, two;
    sgemm(p.args(whole));
    {
      tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
      sgemm_parallel(p.args(one));
    }
    {
      tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
      sgemm_parallel(p.args(two));
    }
    EXPECT_EQ(one, two) << "thread count changed the bits";
    // B packed once beforehand (how FloatLinear runs): same bits.
    const PackedB packed = pack_b(p.b.data(), p.ldb, p.layout, p.n, p.k);
    std::vector<float> pre;
    sgemm_parallel(p.args(pre), &packed);
    EXPECT_EQ(pre, one) << "prepacked B changed the bits";
    // A packed once beforehand too (layers sharing an input): same bits.
    const PackedA packed_a = pack_a(p.a.data(), p.lda, p.m, p.k);
    std::vector<float> both;
    sgemm_parallel(p.args(both), &packed, &packed_a);
    EXPECT_EQ(both, one) << "prepacked A changed the bits";
    if (!sgemm_avx512_available()) continue;  // Eigen's blocking depends on the row count
    EXPECT_EQ(whole, one);
    // Rows 100..150 alone, with the K range in one call: same bits.
    std::vector<float> part;
    SgemmArgs g = p.args(part);
    g.m = 51;
    g.a += 100 * p.lda;
    sgemm(g);
    for (long i = 0; i < 51; ++i)
      ASSERT_EQ(0, std::memcmp(&part[i * p.ldc], &whole[(100 + i) * p.ldc], sizeof(float) * p.n)) << "row " << i;
  }
}

TEST(Sgemm, PackedAOfAnotherShapeIsRefused) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "A is packed on the AVX-512 path only";
  Problem p({30, 40, 50}, BLayout::kNK, false, 5);
  const PackedA a = pack_a(p.a.data(), p.lda, 29, p.k);
  std::vector<float> c;
  EXPECT_THROW(sgemm_parallel(p.args(c), nullptr, &a), Error);
}

TEST(VecMath, ExpAvx512IsAccurate) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "no AVX-512F on this CPU";
  std::vector<float> x, y;
  for (double v = -87.0; v <= 88.0; v += 0.0137) x.push_back(float(v));
  x.push_back(0.0f);
  y.resize(x.size());
  exp_avx512(x.data(), y.data(), long(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = std::exp(double(x[i]));
    worst = std::max(worst, std::abs(y[i] - ref) / ref);
  }
  EXPECT_LT(worst, 3e-7) << "relative error of the polynomial exp";  // ~2.5 ulp
  const float big[3] = {-200.0f, 200.0f, -INFINITY};
  float out[3];
  exp_avx512(big, out, 3);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], INFINITY);
  EXPECT_EQ(out[2], 0.0f);
}

TEST(VecMath, SoftmaxAndSiluPathsAgree) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "no AVX-512F on this CPU";
  for (long n : {1L, 7L, 16L, 33L, 1000L}) {
    std::vector<float> a = randv(size_t(n), unsigned(n)), b, u = randv(size_t(n), unsigned(n) + 1);
    for (float& v : a) v *= 8.0f;
    b = a;
    softmax_scaled_portable(a.data(), n, 0.125f);
    softmax_scaled_avx512(b.data(), n, 0.125f);
    double s = 0;
    for (long i = 0; i < n; ++i) {
      EXPECT_NEAR(b[i], a[i], 1e-6 * a[i] + 1e-12) << "softmax n " << n << " i " << i;
      s += b[i];
    }
    EXPECT_NEAR(s, 1.0, 1e-5);
    std::vector<float> g1 = randv(size_t(n), unsigned(n) + 2), g2;
    for (float& v : g1) v *= 10.0f;
    g2 = g1;
    silu_mul_portable(g1.data(), u.data(), n);
    silu_mul_avx512(g2.data(), u.data(), n);
    for (long i = 0; i < n; ++i) EXPECT_NEAR(g2[i], g1[i], 1e-6 * std::abs(g1[i]) + 1e-30) << "silu n " << n;
  }
}

// pack_a says whether every value it packed was finite (W4A16 layers read
// it instead of a second pass over their input): an Inf or NaN anywhere, in
// a full 12-row panel's vector part, its scalar tail of k, or a short panel.
TEST(Sgemm, PackAFlagsNonFiniteValues) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "pack_a packs on the AVX-512 path only";
  const long m = 29, k = 37, lda = 40;  // panels of 12, 12 and 5 rows; k = 2 x 16 + 5
  const std::vector<float> clean = randv(size_t(m * lda), 5);
  EXPECT_TRUE(pack_a(clean.data(), lda, m, k).finite);
  for (const auto& [r, c] : {std::pair{0L, 0L}, std::pair{11L, 15L}, std::pair{13L, 33L}, std::pair{28L, 36L},
                             std::pair{24L, 3L}}) {
    for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                      std::numeric_limits<float>::quiet_NaN()}) {
      std::vector<float> a = clean;
      a[size_t(r * lda + c)] = bad;
      EXPECT_FALSE(pack_a(a.data(), lda, m, k).finite) << "row " << r << " col " << c << " value " << bad;
    }
  }
  // a bad value outside the k columns read is not seen
  std::vector<float> a = clean;
  a[size_t(3 * lda + 38)] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(pack_a(a.data(), lda, m, k).finite);
}

// Blocked causal attention (several query blocks, T not a multiple of the
// block) against a float64 loop, and equal bits with identity hooks, which
// take the whole-head path.
// sgemm_prefix (attention's K and V packed once): a product against the
// first n columns and first k rows of depth of a packed B has the bits of
// sgemm on that sub-matrix.
TEST(Sgemm, PrefixOfPackedBEqualsSgemmOnTheSubMatrix) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "packed B exists on the AVX-512 path only";
  for (BLayout l : {BLayout::kNK, BLayout::kKN}) {
    Problem p({29, 150, 301}, l, true, 21);
    const PackedB packed = pack_b(p.b.data(), p.ldb, p.layout, p.n, p.k);
    for (const Case& sub : {Case{29, 150, 301}, Case{29, 97, 301}, Case{13, 150, 130}, Case{12, 150, 64},
                            Case{7, 33, 77}, Case{1, 1, 1}}) {
      std::vector<float> want, got;
      SgemmArgs g = p.args(want);
      g.m = sub.m, g.n = sub.n, g.k = sub.k;
      sgemm_avx512(g);
      SgemmArgs h = p.args(got);
      h.m = sub.m, h.n = sub.n, h.k = sub.k, h.b = nullptr;
      sgemm_prefix(h, packed);
      EXPECT_EQ(got, want) << "m " << sub.m << " n " << sub.n << " k " << sub.k;
      // A read in place (rows of a short last micro-tile included): the same bits
      std::vector<float> in_place;
      SgemmArgs r = p.args(in_place);
      r.m = sub.m, r.n = sub.n, r.k = sub.k, r.b = nullptr;
      sgemm_prefix(r, packed, ARead::kInPlace);
      ASSERT_EQ(in_place.size(), want.size());
      EXPECT_EQ(std::memcmp(in_place.data(), want.data(), want.size() * sizeof(float)), 0)
          << "A in place: m " << sub.m << " n " << sub.n << " k " << sub.k;
    }
    std::vector<float> c;
    SgemmArgs too_wide = p.args(c);
    too_wide.n = p.n + 1;
    EXPECT_THROW(sgemm_prefix(too_wide, packed), Error);
  }
}

// The AVX-512 attention path packs K and V once per KV head; every output
// keeps the bits of the per-block kernels::sgemm products (as before the
// packing moved), here recomputed independently, block by block.
TEST(CausalAttention, PackedKVKeepsThePerBlockBits) {
  if (!sgemm_avx512_available()) GTEST_SKIP() << "the packed path is the AVX-512 one";
  const long T = 300;
  const int H = 4, KV = 2, d = 40;
  auto mat = [](long r, long c, unsigned seed) {
    const std::vector<float> v = randv(size_t(r * c), seed);
    return MatrixF(Eigen::Map<const MatrixF>(v.data(), r, c));
  };
  const MatrixF q = mat(T, H * d, 4), k = mat(T, KV * d, 5), v = mat(T, KV * d, 6);
  const MatrixF o = causal_attention(q, k, v, H, KV, d);
  const float scale = 1.0f / std::sqrt(float(d));
  for (int h = 0; h < H; ++h) {
    const long qo = long(h) * d, ko = long(h / (H / KV)) * d;
    for (long i0 = 0; i0 < T; i0 += 128) {
      const long rows = std::min(128L, T - i0), keys = i0 + rows;
      std::vector<float> s(size_t(rows * keys)), out(size_t(rows * d));
      SgemmArgs g;
      g.m = rows, g.n = keys, g.k = d, g.a = q.data() + i0 * q.cols() + qo, g.lda = q.cols();
      g.b = k.data() + ko, g.ldb = k.cols(), g.layout = BLayout::kNK, g.c = s.data(), g.ldc = keys;
      sgemm(g);
      for (long r = 0; r < rows; ++r) {
        softmax_scaled(s.data() + r * keys, i0 + r + 1, scale);
        std::fill(s.data() + r * keys + i0 + r + 1, s.data() + (r + 1) * keys, 0.0f);
      }
      SgemmArgs pv;
      pv.m = rows, pv.n = d, pv.k = keys, pv.a = s.data(), pv.lda = keys, pv.b = v.data() + ko, pv.ldb = v.cols();
      pv.layout = BLayout::kKN, pv.c = out.data(), pv.ldc = d;
      sgemm(pv);
      for (long r = 0; r < rows; ++r)
        ASSERT_EQ(0, std::memcmp(out.data() + r * d, o.data() + (i0 + r) * o.cols() + qo, sizeof(float) * d))
            << "head " << h << " row " << i0 + r;
    }
  }
}

TEST(CausalAttention, BlockedMatchesFloat64AndHookedPath) {
  const long T = 300;
  const int H = 4, KV = 2, d = 24;
  auto mat = [](long r, long c, unsigned seed) {
    const std::vector<float> v = randv(size_t(r * c), seed);
    return MatrixF(Eigen::Map<const MatrixF>(v.data(), r, c));
  };
  const MatrixF q = mat(T, H * d, 1), k = mat(T, KV * d, 2), v = mat(T, KV * d, 3);
  const MatrixF o = causal_attention(q, k, v, H, KV, d);
  for (int h = 0; h < H; ++h) {
    const long qo = long(h) * d, ko = long(h / (H / KV)) * d;
    for (long t = 0; t < T; t += 7) {
      std::vector<double> s(size_t(t + 1));
      double mx = -1e300, sum = 0;
      for (long j = 0; j <= t; ++j) {
        double acc = 0;
        for (int c = 0; c < d; ++c) acc += double(q(t, qo + c)) * k(j, ko + c);
        s[size_t(j)] = acc / std::sqrt(double(d));
        mx = std::max(mx, s[size_t(j)]);
      }
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int c = 0; c < d; ++c) {
        double ref = 0;
        for (long j = 0; j <= t; ++j) ref += s[size_t(j)] / sum * v(j, ko + c);
        ASSERT_NEAR(o(t, qo + c), ref, 2e-5) << "head " << h << " row " << t << " col " << c;
      }
    }
  }
  AttentionMatmuls mm;
  mm.heads = [](int, const MatrixF& qq, const MatrixF& kk, const MatrixF&, int hd) {
    HeadMatmuls hm;
    hm.qk = [&qq, &kk, hd](int h, int kvh) -> MatrixF {
      return qq.middleCols(h * hd, hd) * kk.middleCols(kvh * hd, hd).transpose();
    };
    return hm;
  };
  const MatrixF hooked = causal_attention(q, k, v, H, KV, d, mm);
  EXPECT_TRUE(hooked.isApprox(o, 1e-5f));
}

}  // namespace
}  // namespace sqsim::kernels
