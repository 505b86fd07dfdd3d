// GPTQ (quant/gptq.h, docs/quantization.md "GPTQ"): the blocked algorithm
// against a column-by-column float64 version written here, its codes against
// the project's quantizer, damping and dead columns, ragged groups, refusals.
// tests/python/test_gptq.py checks it against an independent numpy version.
#include "quant/gptq.h"

#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/LU>
#include <random>

#include "base/error.h"

namespace sqsim {
namespace {

MatrixF random_matrix(long rows, long cols, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  MatrixF m(rows, cols);
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c) m(r, c) = n(rng) * scale;
  return m;
}

MatrixD hessian_of(const MatrixF& x) {
  HessianAccumulator acc(x.cols());
  acc.add(x, "x");
  return acc.hessian();
}

// Unblocked GPTQ (natural order): quantize column j, push its error onto
// every later column at once.
std::vector<int16_t> unblocked(const MatrixF& w, const MatrixD& h_in, int group, int bits, double damp) {
  const long N = w.rows(), K = w.cols();
  MatrixD H = h_in, W = w.cast<double>();
  for (long j = 0; j < K; ++j)
    if (H(j, j) == 0) {
      H(j, j) = 1;
      W.col(j).setZero();
    }
  H.diagonal().array() += damp * H.diagonal().mean();
  const MatrixD Hinv = H.inverse();
  const MatrixD U = Eigen::LLT<MatrixD>(Hinv).matrixU();
  QuantSpec spec;
  spec.bits = bits;
  spec.symmetric = false;
  spec.granularity = Granularity::kPerGroup;
  spec.group_size = group;
  std::vector<int16_t> codes(static_cast<size_t>(N * K));
  std::vector<float> s(static_cast<size_t>(N));
  std::vector<int32_t> zp(static_cast<size_t>(N));
  for (long j = 0; j < K; ++j) {
    if (j % group == 0) {
      const long c1 = std::min(K, j + group);
      MatrixF g(N, c1 - j);
      for (long n = 0; n < N; ++n)
        for (long c = j; c < c1; ++c) g(n, c - j) = float(W(n, c));
      QuantSpec row = spec;
      row.granularity = Granularity::kPerRow;
      const QuantParams p = dynamic_params(g, row, "g");
      for (long n = 0; n < N; ++n) {
        s[size_t(n)] = p.scale[size_t(n)];
        zp[size_t(n)] = p.zero_point[size_t(n)];
      }
    }
    for (long n = 0; n < N; ++n) {
      MatrixF one(1, 1);
      one(0, 0) = float(W(n, j));
      QuantParams p;
      p.scale = {s[size_t(n)]};
      p.zero_point = {zp[size_t(n)]};
      QuantSpec t = spec;
      t.granularity = Granularity::kPerTensor;
      const QuantizedMatrix q = quantize(one, t, p, "w");
      codes[size_t(n * K + j)] = q.codes[0];
      const double deq = double(dequantize(q)(0, 0));
      const double e = (W(n, j) - deq) / U(j, j);
      for (long k = j + 1; k < K; ++k) W(n, k) -= e * U(j, k);
    }
  }
  return codes;
}

TEST(Gptq, BlockedEqualsColumnByColumnAndUsesTheProjectsQuantizer) {
  const MatrixF x = random_matrix(300, 96, 1.0f, 1);
  const MatrixF w = random_matrix(24, 96, 0.1f, 2);
  const MatrixD h = hessian_of(x);
  // The lazy block update is exact up to float64 rounding: with one group per
  // row (its parameters fixed at column 0) any block size gives the unblocked
  // codes; with several groups, blocks of one group each do too. (With blocks
  // holding several groups, a group starting inside a block reads the weights
  // as the previous blocks left them, by definition: tests/python/test_gptq.py.)
  for (int block : {1, 7, 32, 128}) {
    GptqOptions o;
    o.group_size = 96;
    o.block = block;
    const GptqResult r = gptq_quantize(w, h, o, "layer");
    EXPECT_EQ(r.q.codes, unblocked(w, h, 96, 4, 0.01)) << "block " << block;
  }
  GptqOptions o;
  o.group_size = 32;
  o.block = 32;
  EXPECT_EQ(gptq_quantize(w, h, o, "layer").q.codes, unblocked(w, h, 32, 4, 0.01));
}

TEST(Gptq, LowersTheLayerOutputErrorAgainstRoundToNearest) {
  // Correlated input channels (as real activations are): where error feedback pays.
  MatrixF x = random_matrix(512, 64, 1.0f, 3) * random_matrix(64, 64, 0.3f, 8);
  for (long r = 0; r < x.rows(); ++r) x(r, 5) *= 10;  // an outlier channel
  const MatrixF w = random_matrix(48, 64, 0.1f, 4);
  GptqOptions o;
  o.group_size = 16;
  const GptqResult g = gptq_quantize(w, hessian_of(x), o, "layer");
  QuantSpec rtn = g.q.spec;
  const MatrixF wq_rtn = fake_quantize(w, rtn, "w");
  const MatrixF wq_gptq = dequantize(g.q);
  const double e_rtn = (x * (wq_rtn - w).transpose()).norm(), e_gptq = (x * (wq_gptq - w).transpose()).norm();
  EXPECT_LT(e_gptq, 0.8 * e_rtn);
  for (bool act : {false, true}) {
    o.act_order = act;
    const GptqResult a = gptq_quantize(w, hessian_of(x), o, "layer");
    EXPECT_LT((x * (dequantize(a.q) - w).transpose()).norm(), 0.8 * e_rtn) << act;
  }
}

TEST(Gptq, RaggedGroupsDeadColumnsAndASingularHessian) {
  // K = 40 with groups of 16: groups of 16, 16 and 8 columns.
  MatrixF x = random_matrix(10, 40, 1.0f, 5);  // fewer rows than columns: H singular before damping
  x.col(7).setZero();                          // a dead column
  const MatrixF w = random_matrix(6, 40, 0.1f, 6);
  GptqOptions o;
  o.group_size = 16;
  const GptqResult r = gptq_quantize(w, hessian_of(x), o, "layer");
  EXPECT_EQ(r.dead_columns, 1);
  EXPECT_EQ(r.q.params.scale.size(), size_t(6 * 3));
  const MatrixF deq = dequantize(r.q);
  for (long n = 0; n < 6; ++n) EXPECT_NEAR(deq(n, 7), 0.0f, r.q.params.scale[size_t(n * 3)]);
  EXPECT_TRUE(deq.allFinite());
  // All-zero inputs: every column dead, H = I: plain round-to-nearest of the zeroed weights.
  const GptqResult z = gptq_quantize(w, MatrixD::Zero(40, 40), o, "layer");
  EXPECT_EQ(z.dead_columns, 40);
}

TEST(Gptq, RefusesBadOptionsNamingThem) {
  const MatrixF w = random_matrix(4, 16, 0.1f, 7);
  const MatrixD h = MatrixD::Identity(16, 16);
  GptqOptions o;
  o.group_size = 8;
  for (double d : {0.0, -0.1, std::nan("")}) {
    o.damp = d;
    try {
      gptq_quantize(w, h, o, "layers.1.mlp.up_proj");
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--gptq-damp"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find("layers.1.mlp.up_proj"), std::string::npos);
    }
  }
  o.damp = 0.01;
  EXPECT_THROW(gptq_quantize(w, MatrixD::Identity(15, 15), o, "l"), Error);
  MatrixD neg = -MatrixD::Identity(16, 16);
  EXPECT_THROW(gptq_quantize(w, neg, o, "l"), Error);
  o.bits = 1;
  EXPECT_THROW(gptq_quantize(w, h, o, "l"), Error);
}

}  // namespace
}  // namespace sqsim
