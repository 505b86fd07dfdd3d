// LLM.int8() (kernels/llm_int8.h, docs/quantization.md "LLM.int8()"): planted
// outlier columns, the integer part against the integer GEMM bit for bit on
// every path, and the whole layer against an independent float64 computation.
#include "kernels/llm_int8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "base/error.h"
#include "kernels/gemm.h"
#include "quant/fp16.h"

namespace sqsim::kernels {
namespace {

MatrixF random_matrix(long rows, long cols, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  MatrixF m(rows, cols);
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c) m(r, c) = u(rng) * scale;
  return m;
}

bool same_bits(const MatrixF& a, const MatrixF& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0;
}

// Symmetric int8 codes and scale of a row, written out here (not through quant/).
void quantize_row_by_hand(const std::vector<double>& v, std::vector<double>& q, double& scale) {
  float absmax = 0;
  for (double x : v) absmax = std::max(absmax, std::fabs(float(x)));
  const float s = std::max(absmax, 1e-5f) / 127.0f;
  q.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    q[i] = std::min(127.0f, std::max(-128.0f, std::nearbyint(float(v[i]) / s)));
  scale = s;
}

// The decomposition in float64: int8 part from codes computed here, float part
// with float64 products.
MatrixD reference_layer(const MatrixF& x, const MatrixF& w, const std::vector<float>& bias,
                        const std::vector<long>& outliers, bool fp16) {
  const long M = x.rows(), N = w.rows(), K = x.cols();
  std::vector<bool> out(size_t(K), false);
  for (long k : outliers) out[size_t(k)] = true;
  MatrixD y = MatrixD::Zero(M, N);
  std::vector<std::vector<double>> wq(static_cast<size_t>(N));
  std::vector<double> ws(static_cast<size_t>(N));
  for (long n = 0; n < N; ++n) {
    std::vector<double> row(w.row(n).data(), w.row(n).data() + K);
    quantize_row_by_hand(row, wq[size_t(n)], ws[size_t(n)]);
  }
  for (long m = 0; m < M; ++m) {
    std::vector<double> reg;
    for (long k = 0; k < K; ++k)
      if (!out[size_t(k)]) reg.push_back(x(m, k));
    std::vector<double> xq;
    double xs = 0;
    if (!reg.empty()) quantize_row_by_hand(reg, xq, xs);
    for (long n = 0; n < N; ++n) {
      double acc = 0, f = 0;
      for (long k = 0, j = 0; k < K; ++k) {
        if (out[size_t(k)]) {
          const double xv = fp16 ? double(_Float16(x(m, k))) : x(m, k);
          const double wv = fp16 ? double(_Float16(w(n, k))) : w(n, k);
          f += xv * wv;
        } else {
          acc += xq[size_t(j++)] * wq[size_t(n)][size_t(k)];
        }
      }
      y(m, n) = acc * xs * ws[size_t(n)] + f + bias[size_t(n)];
    }
  }
  return y;
}

struct Planted {
  MatrixF x, w;
  std::vector<float> bias;
};

Planted planted() {
  Planted p;
  p.x = random_matrix(9, 40, 1.0f, 1);
  p.w = random_matrix(12, 40, 0.2f, 2);
  p.x(4, 3) = 7.5f;     // above the threshold
  p.x(0, 10) = -60.0f;  // above, negative
  p.x(8, 5) = 6.0f;     // the threshold itself counts
  p.x(2, 7) = 5.99f;    // below
  p.x(6, 21) = -5.999f; // below
  p.bias.resize(12);
  for (int n = 0; n < 12; ++n) p.bias[size_t(n)] = 0.01f * float(n) - 0.05f;
  return p;
}

TEST(LlmInt8, OutlierColumnsAreThoseReachingTheThreshold) {
  const Planted p = planted();
  EXPECT_EQ(llm_int8_outlier_columns(p.x, 6.0f), (std::vector<long>{3, 5, 10}));
  EXPECT_EQ(llm_int8_outlier_columns(p.x, 5.99f), (std::vector<long>{3, 5, 7, 10, 21}));
  EXPECT_EQ(llm_int8_outlier_columns(p.x, 100.0f), std::vector<long>{});
  LlmInt8Stats stats;
  llm_int8_linear(p.x, prepare_llm_int8_weights(p.w, "l"), p.bias.data(), {}, "l", &stats);
  EXPECT_EQ(stats.outlier_columns, (std::vector<long>{3, 5, 10}));
  EXPECT_DOUBLE_EQ(stats.float_mac_share, 3.0 / 40.0);
}

TEST(LlmInt8, IntegerPartIsTheInt8GemmOfTheRegularColumnsOnEveryPath) {
  const Planted p = planted();
  const LlmInt8Weights w = prepare_llm_int8_weights(p.w, "l");
  const std::vector<long> outliers = {3, 5, 10};
  // The regular columns compacted by hand, quantized per token and per channel.
  std::vector<long> regular;
  for (long k = 0; k < 40; ++k)
    if (k != 3 && k != 5 && k != 10) regular.push_back(k);
  MatrixF xr(9, long(regular.size())), wr_codes_f(12, long(regular.size()));
  for (size_t j = 0; j < regular.size(); ++j) xr.col(long(j)) = p.x.col(regular[j]);
  QuantSpec per_row;
  per_row.granularity = Granularity::kPerRow;
  const Int8Matrix a = to_int8(quantize(xr, per_row, "x"), "x");
  Int8Matrix b = w.codes;
  b.cols = b.group_size = long(regular.size());
  b.codes.clear();
  for (long n = 0; n < 12; ++n)
    for (long k : regular) b.codes.push_back(w.codes.codes[size_t(n * 40 + k)]);
  const MatrixF want = linear_s8s8_reference(a, b, nullptr);
  for (KernelPath path : available_kernel_paths()) {
    EXPECT_TRUE(same_bits(llm_int8_integer_part(p.x, w, outliers, path, "l"), want)) << kernel_path_name(path);
    LlmInt8Options o;
    o.path = path;
    const MatrixF y = llm_int8_linear(p.x, w, p.bias.data(), o, "l");
    const MatrixF f = llm_int8_float_part(p.x, p.w, outliers, false);
    MatrixF expect = want + f;
    for (long m = 0; m < 9; ++m)
      for (long n = 0; n < 12; ++n) expect(m, n) = expect(m, n) + p.bias[size_t(n)];
    EXPECT_TRUE(same_bits(y, expect)) << kernel_path_name(path);
  }
}

TEST(LlmInt8, WholeLayerEqualsAnIndependentFloat64Decomposition) {
  const Planted p = planted();
  const LlmInt8Weights w = prepare_llm_int8_weights(p.w, "l");
  for (bool fp16 : {false, true}) {
    LlmInt8Options o;
    o.fp16_outliers = fp16;
    const MatrixF y = llm_int8_linear(p.x, w, p.bias.data(), o, "l");
    const MatrixD ref = reference_layer(p.x, p.w, p.bias, {3, 5, 10}, fp16);
    for (long m = 0; m < 9; ++m)
      for (long n = 0; n < 12; ++n) EXPECT_NEAR(y(m, n), ref(m, n), 2e-5 * (1 + std::fabs(ref(m, n)))) << m << n;
  }
  // The decomposition helps: the outlier rows are far closer to the float layer
  // than plain per-token int8 of all columns would be.
  const MatrixF exact = p.x * p.w.transpose();
  const MatrixF y = llm_int8_linear(p.x, w, nullptr, {}, "l");
  LlmInt8Options none;
  none.threshold = 1e9f;
  const MatrixF plain = llm_int8_linear(p.x, w, nullptr, none, "l");
  EXPECT_LT((y - exact).norm(), 0.2 * (plain - exact).norm());
}

TEST(LlmInt8, NoOutliersIsPlainVectorWiseInt8AndAllOutliersIsFloat) {
  const Planted p = planted();
  const LlmInt8Weights w = prepare_llm_int8_weights(p.w, "l");
  LlmInt8Options none;
  none.threshold = 1000.0f;
  QuantSpec per_row;
  per_row.granularity = Granularity::kPerRow;
  const Int8Matrix a = to_int8(quantize(p.x, per_row, "x"), "x");
  EXPECT_TRUE(same_bits(llm_int8_linear(p.x, w, p.bias.data(), none, "l"),
                        linear_s8s8_reference(a, w.codes, p.bias.data())));
  LlmInt8Options all;
  all.threshold = 1e-30f;  // every column has a non-zero entry
  LlmInt8Stats stats;
  const MatrixF y = llm_int8_linear(p.x, w, nullptr, all, "l", &stats);
  EXPECT_EQ(stats.float_mac_share, 1.0);
  std::vector<long> every(40);
  for (long k = 0; k < 40; ++k) every[size_t(k)] = k;
  EXPECT_TRUE(same_bits(y, llm_int8_float_part(p.x, p.w, every, false)));
}

// The float part's documented order: per output, the products of the outlier
// columns in ascending order, each rounded, added one at a time from 0. The
// kernel loops differently (over outputs innermost, rows in parallel blocks);
// the bits must be those of the plain loop.
TEST(LlmInt8, FloatPartHasThePlainLoopsBits) {
  const MatrixF x = random_matrix(53, 96, 3.0f, 11), w = random_matrix(37, 96, 0.2f, 12);
  const std::vector<long> outliers = {0, 3, 4, 17, 40, 41, 42, 77, 95};
  for (bool fp16 : {false, true}) {
    MatrixF ref(x.rows(), w.rows());
    for (long m = 0; m < x.rows(); ++m)
      for (long n = 0; n < w.rows(); ++n) {
        float acc = 0.0f;
        for (long k : outliers) {
          const float xv = fp16 ? round_to_fp16(x(m, k)) : x(m, k);
          const float wv = fp16 ? round_to_fp16(w(n, k)) : w(n, k);
          const float prod = xv * wv;
          acc = acc + prod;
        }
        ref(m, n) = acc;
      }
    EXPECT_TRUE(same_bits(llm_int8_float_part(x, w, outliers, fp16), ref)) << "fp16 " << fp16;
  }
}

TEST(LlmInt8, RefusesABadThresholdAndShapesNamingTheLayer) {
  const Planted p = planted();
  const LlmInt8Weights w = prepare_llm_int8_weights(p.w, "layers.0.q");
  for (float t : {0.0f, -1.0f, std::nanf(""), INFINITY}) {
    LlmInt8Options o;
    o.threshold = t;
    try {
      llm_int8_linear(p.x, w, nullptr, o, "layers.0.q");
      FAIL() << t;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("layers.0.q"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find("threshold"), std::string::npos);
    }
  }
  EXPECT_THROW(llm_int8_linear(MatrixF::Ones(2, 39), w, nullptr, {}, "l"), Error);
  MatrixF bad = p.x;
  bad(1, 1) = std::nanf("");
  EXPECT_THROW(llm_int8_linear(bad, w, nullptr, {}, "l"), Error);
}

TEST(Fp16, RoundingEqualsTheCompilersFloat16ConversionOnASweepOfBitPatterns) {
  long checked = 0;
  for (uint64_t i = 0; i < (1ull << 32); i += 65521) {
    for (uint32_t d : {0u, 1u, 0x0FFFu, 0x1000u, 0x1001u}) {  // near the rounding points of the kept bits
      const uint32_t u = uint32_t(i) ^ d;
      float x;
      std::memcpy(&x, &u, 4);
      if (std::isnan(x)) continue;
      const float a = round_to_fp16(x), b = float(_Float16(x));
      ASSERT_EQ(std::memcmp(&a, &b, 4), 0) << std::hex << u;
      ++checked;
    }
  }
  EXPECT_GT(checked, 300000);
  EXPECT_EQ(round_to_fp16(65519.0f), 65504.0f);
  EXPECT_EQ(round_to_fp16(65520.0f), INFINITY);
  EXPECT_TRUE(std::signbit(round_to_fp16(-0.0f)));
}

}  // namespace
}  // namespace sqsim::kernels
