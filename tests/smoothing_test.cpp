// Smoothing keeps Y; folding into LayerNorm / RMSNorm equals explicit scaling.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "base/error.h"
#include "quant/error_metrics.h"
#include "quant/smoothing.h"
#include "sim/eval/synthetic_layer.h"

namespace sqsim {
namespace {

TEST(Smoothing, FactorsMatchTheFormula) {
  VectorF a(4), w(4);
  a << 4.0f, 0.0f, 1.0f, 9.0f;
  w << 1.0f, 2.0f, 0.0f, 4.0f;
  const VectorF s = smoothing_factors(a, w, 0.5f, "t");
  EXPECT_FLOAT_EQ(s[0], 2.0f);                                  // sqrt(4)/sqrt(1)
  EXPECT_FLOAT_EQ(s[1], 1.0f);                                  // A_j = 0 -> 1
  EXPECT_FLOAT_EQ(s[2], 1.0f / std::pow(1e-5f, 0.5f));          // W_j floored at 1e-5
  EXPECT_FLOAT_EQ(s[3], 1.5f);                                  // 3/2
  const VectorF s0 = smoothing_factors(a, w, 0.0f, "t");
  EXPECT_FLOAT_EQ(s0[3], 0.25f);  // alpha = 0 divides by the weight absmax: not the identity
  const VectorF s1 = smoothing_factors(a, w, 1.0f, "t");
  EXPECT_FLOAT_EQ(s1[3], 9.0f);
}

TEST(Smoothing, FactorsAreFlooredAtOneEMinusFive) {
  VectorF a(1), w(1);
  a << 1e-12f;
  w << 1e3f;
  EXPECT_FLOAT_EQ(smoothing_factors(a, w, 0.5f, "t")[0], 1e-5f);
}

TEST(Smoothing, WeightAbsmaxIsOverAllLayersSharingTheInput) {
  MatrixF q(1, 3), k(2, 3);
  q << 1, -5, 0;
  k << -2, 1, 0.5f, 0, 3, -7;
  const VectorF w = weight_column_absmax({&q, &k}, "qkv");
  EXPECT_FLOAT_EQ(w[0], 2.0f);
  EXPECT_FLOAT_EQ(w[1], 5.0f);
  EXPECT_FLOAT_EQ(w[2], 7.0f);
  MatrixF bad(1, 4);
  EXPECT_THROW(weight_column_absmax({&q, &bad}, "qkv"), Error);
}

TEST(Smoothing, KeepsTheOutputEqualBeforeQuantization) {
  SyntheticLayerSpec spec;
  spec.tokens = 64;
  spec.in_features = 96;
  spec.out_features = 48;
  const SyntheticLayer l = make_synthetic_layer(spec);
  const MatrixF y = l.x * l.w.transpose();
  for (float alpha : {0.0f, 0.5f, 0.85f, 1.0f}) {
    MatrixF x = l.x, w = l.w;
    const VectorF s = smoothing_factors(activation_column_absmax(x, "x"), weight_column_absmax({&w}, "w"), alpha, "t");
    smooth_activations(x, s);
    smooth_weight(w, s);
    EXPECT_LT(compare(y, x * w.transpose(), "y").rel_err, 1e-6) << alpha;
  }
}

TEST(Smoothing, ReducesActivationOutliers) {
  SyntheticLayerSpec spec;
  spec.outlier_scale = 100.0f;
  const SyntheticLayer l = make_synthetic_layer(spec);
  MatrixF x = l.x, w = l.w;
  const VectorF before = activation_column_absmax(x, "x");
  const VectorF s = smoothing_factors(before, weight_column_absmax({&w}, "w"), 0.5f, "t");
  smooth_activations(x, s);
  const VectorF after = activation_column_absmax(x, "x");
  EXPECT_LT(after.maxCoeff() / after.minCoeff(), 0.2 * before.maxCoeff() / before.minCoeff());
}

VectorF layer_norm(const VectorF& x, const VectorF& g, const VectorF& b) {
  const float mean = x.mean();
  const float var = (x.array() - mean).square().mean();
  return ((x.array() - mean) / std::sqrt(var + 1e-5f) * g.array() + b.array()).matrix();
}

VectorF rms_norm(const VectorF& x, const VectorF& g) {
  const float ms = x.squaredNorm() / x.size();
  return (x.array() / std::sqrt(ms + 1e-6f) * g.array()).matrix();
}

// The one-pass copies hold the in-place results, bit for bit.
TEST(Smoothing, SmoothedCopiesEqualSmoothingInPlace) {
  const MatrixF x = MatrixF::Random(7, 33), w = MatrixF::Random(5, 33);
  const VectorF s = (VectorF::Random(33).array().abs() * 40.f + 1e-3f).matrix();
  MatrixF x2 = x, w2 = w;
  smooth_activations(x2, s);
  smooth_weight(w2, s);
  const MatrixF x3 = smoothed_activations(x, s), w3 = smoothed_weight(w, s);
  EXPECT_EQ(std::memcmp(x2.data(), x3.data(), sizeof(float) * x.size()), 0);
  EXPECT_EQ(std::memcmp(w2.data(), w3.data(), sizeof(float) * w.size()), 0);
  EXPECT_NE(std::memcmp(x.data(), x3.data(), sizeof(float) * x.size()), 0);
  EXPECT_THROW(smoothed_activations(x, VectorF::Ones(32)), Error);
  EXPECT_THROW(smoothed_weight(w, VectorF::Ones(32)), Error);
}

TEST(Smoothing, FoldingIntoLayerNormEqualsExplicitScaling) {
  const int k = 32;
  VectorF x = VectorF::Random(k), g = VectorF::Random(k), b = VectorF::Random(k);
  VectorF s = (VectorF::Random(k).array().abs() + 0.1f).matrix();
  const VectorF explicit_scaled = (layer_norm(x, g, b).array() / s.array()).matrix();
  VectorF g2 = g, b2 = b;
  fold_into_layernorm(g2, b2, s);
  EXPECT_LT((layer_norm(x, g2, b2) - explicit_scaled).cwiseAbs().maxCoeff(), 1e-5f);
}

TEST(Smoothing, FoldingIntoRmsNormEqualsExplicitScaling) {
  const int k = 32;
  VectorF x = VectorF::Random(k), g = VectorF::Random(k);
  VectorF s = (VectorF::Random(k).array().abs() + 0.1f).matrix();
  const VectorF explicit_scaled = (rms_norm(x, g).array() / s.array()).matrix();
  VectorF g2 = g;
  fold_into_rmsnorm(g2, s);
  EXPECT_LT((rms_norm(x, g2) - explicit_scaled).cwiseAbs().maxCoeff(), 1e-5f);
}

TEST(Smoothing, AlphaParsing) {
  EXPECT_FALSE(parse_alpha("none", "--alpha").has_value());
  EXPECT_FLOAT_EQ(*parse_alpha("0.85", "--alpha"), 0.85f);
  EXPECT_THROW(parse_alpha("1.5", "--alpha"), Error);
  EXPECT_THROW(parse_alpha("abc", "--alpha"), Error);
  VectorF a = VectorF::Ones(2), w = VectorF::Ones(3);
  EXPECT_THROW(smoothing_factors(a, w, 0.5f, "t"), Error);
}

}  // namespace
}  // namespace sqsim
