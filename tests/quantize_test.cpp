// Hand-computed quantizer cases (docs/quantization.md) and property tests.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/error.h"
#include "quant/quantize.h"
#include "quant/rounding.h"

namespace sqsim {
namespace {

MatrixF row(std::initializer_list<float> v) {
  MatrixF m(1, static_cast<long>(v.size()));
  long i = 0;
  for (float x : v) m(0, i++) = x;
  return m;
}

QuantSpec sym8() { return QuantSpec{}; }

TEST(Quantize, SymmetricPerTensorHandComputed) {
  // absmax 127 -> scale 1; codes are the values themselves.
  const MatrixF x = row({127.0f, -127.0f, 3.0f, 0.4f, -0.6f});
  const QuantizedMatrix q = quantize(x, sym8(), "x");
  EXPECT_FLOAT_EQ(q.params.scale[0], 1.0f);
  EXPECT_EQ(q.codes, (std::vector<int16_t>{127, -127, 3, 0, -1}));
}

TEST(Quantize, TiesRoundHalfToEven) {
  // scale = 127/127 = 1: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 0.5 -> 0.
  const MatrixF x = row({127.0f, 2.5f, 3.5f, -2.5f, 0.5f, -1.5f});
  const QuantizedMatrix q = quantize(x, sym8(), "x");
  EXPECT_EQ(q.codes, (std::vector<int16_t>{127, 2, 4, -2, 0, -2}));
}

TEST(Quantize, TiesRoundHalfAwayFromZero) {
  QuantSpec s = sym8();
  s.rounding = Rounding::kHalfAwayFromZero;
  const MatrixF x = row({127.0f, 2.5f, 3.5f, -2.5f, 0.5f, -1.5f});
  EXPECT_EQ(quantize(x, s, "x").codes, (std::vector<int16_t>{127, 3, 4, -3, 1, -2}));
}

TEST(Quantize, FullClampReachesMinus128NarrowDoesNot) {
  // Static params with scale 1: -200 clamps to -128 (full) or -127 (narrow).
  QuantSpec s = sym8();
  QuantParams p;
  p.scale = {1.0f};
  p.zero_point = {0};
  const MatrixF x = row({-200.0f, 200.0f, -128.0f});
  EXPECT_EQ(quantize(x, s, p, "x").codes, (std::vector<int16_t>{-128, 127, -128}));
  s.clamp = ClampRange::kNarrow;
  EXPECT_EQ(quantize(x, s, p, "x").codes, (std::vector<int16_t>{-127, 127, -127}));
}

TEST(Quantize, HalfRangeScaleIs127Point5) {
  QuantSpec s = sym8();
  s.scale_rule = ScaleRule::kHalfRange;
  const MatrixF x = row({255.0f, 1.0f});
  const QuantizedMatrix q = quantize(x, s, "x");
  EXPECT_FLOAT_EQ(q.params.scale[0], 2.0f);  // 255 / 127.5
  EXPECT_EQ(q.codes[0], 127);                // 127.5 -> 128 (half-even) -> clamped 127
  EXPECT_EQ(q.codes[1], 0);                  // 0.5 -> 0
}

TEST(Quantize, ReciprocalRuleMultipliesByQmaxOverAbsmax) {
  QuantSpec s = sym8();
  s.scale_rule = ScaleRule::kReciprocal;
  const MatrixF x = row({3.0f, 1.0f});
  const QuantizedMatrix q = quantize(x, s, "x");
  EXPECT_FLOAT_EQ(q.params.multiplier[0], 127.0f / 3.0f);
  EXPECT_EQ(q.codes[1], static_cast<int16_t>(std::nearbyint(1.0f * (127.0f / 3.0f))));
}

TEST(Quantize, AbsmaxFloorIsOneEMinusFive) {
  const MatrixF x = MatrixF::Zero(2, 3);
  const QuantizedMatrix q = quantize(x, sym8(), "x");
  EXPECT_FLOAT_EQ(q.params.scale[0], 1e-5f / 127.0f);
  for (auto c : q.codes) EXPECT_EQ(c, 0);
}

TEST(Quantize, AsymmetricFourBitHandComputed) {
  // min -1, max 2: scale = 3/15 = 0.2, zp = round(1/0.2) = 5.
  QuantSpec s;
  s.bits = 4;
  s.symmetric = false;
  const MatrixF x = row({-1.0f, 2.0f, 0.0f, 0.5f, 0.3f});
  const QuantizedMatrix q = quantize(x, s, "w");
  EXPECT_FLOAT_EQ(q.params.scale[0], 0.2f);
  EXPECT_EQ(q.params.zero_point[0], 5);
  // 0.5/0.2 = 2.5 -> 2 (half-even) + 5 = 7; 0.3/0.2 = 1.4999.. or 1.5 in float -> 1 or 2.
  EXPECT_EQ(q.codes[0], 0);
  EXPECT_EQ(q.codes[1], 15);
  EXPECT_EQ(q.codes[2], 5);
  EXPECT_EQ(q.codes[3], static_cast<int16_t>(std::nearbyint(0.5f / 0.2f)) + 5);
  const MatrixF d = dequantize(q);
  EXPECT_FLOAT_EQ(d(0, 0), -1.0f);
  EXPECT_FLOAT_EQ(d(0, 1), 10.0f * 0.2f);
}

TEST(Quantize, PerTokenPerChannelAndGroupScales) {
  MatrixF x(2, 4);
  x << 1, -2, 3, -4,  //
      10, 20, -30, 5;
  QuantSpec s = sym8();
  parse_granularity("per-token", TensorRole::kActivation, s);
  auto q = quantize(x, s, "x");
  ASSERT_EQ(q.params.scale.size(), 2u);
  EXPECT_FLOAT_EQ(q.params.scale[0], 4.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.params.scale[1], 30.0f / 127.0f);
  parse_granularity("per-channel", TensorRole::kActivation, s);
  q = quantize(x, s, "x");
  ASSERT_EQ(q.params.scale.size(), 4u);
  EXPECT_FLOAT_EQ(q.params.scale[2], 30.0f / 127.0f);
  parse_granularity("group2", TensorRole::kWeight, s);
  q = quantize(x, s, "w");
  ASSERT_EQ(q.params.scale.size(), 4u);
  EXPECT_FLOAT_EQ(q.params.scale[1], 4.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.params.scale[2], 20.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.params.scale[3], 30.0f / 127.0f);
}

TEST(Quantize, StochasticRoundingIsSeededAndUnbiased) {
  QuantSpec s = sym8();
  s.rounding = Rounding::kStochastic;
  s.seed = 42;
  QuantParams p;
  p.scale = {1.0f};
  p.zero_point = {0};
  MatrixF x = MatrixF::Constant(1, 20000, 0.25f);
  const auto a = quantize(x, s, p, "x"), b = quantize(x, s, p, "x");
  EXPECT_EQ(a.codes, b.codes);
  double mean = 0;
  for (auto c : a.codes) {
    EXPECT_TRUE(c == 0 || c == 1);
    mean += c;
  }
  mean /= a.codes.size();
  EXPECT_NEAR(mean, 0.25, 0.02);
  s.seed = 43;
  EXPECT_NE(quantize(x, s, p, "x").codes, a.codes);
}

TEST(Quantize, RandomPropertiesOverShapesAndGranularities) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (const char* g : {"per-tensor", "per-channel", "group16", "group32"}) {
    for (int bits : {2, 3, 4, 6, 8}) {
      for (bool sym : {true, false}) {
        MatrixF w(7, 64);
        for (long i = 0; i < w.size(); ++i) w.data()[i] = nd(rng);
        QuantSpec s;
        s.bits = bits;
        s.symmetric = sym;
        parse_granularity(g, TensorRole::kWeight, s);
        const QuantizedMatrix q = quantize(w, s, "w");
        const MatrixF d = dequantize(q);
        for (long r = 0; r < w.rows(); ++r) {
          for (long c = 0; c < w.cols(); ++c) {
            ASSERT_GE(q.code(r, c), s.qmin());
            ASSERT_LE(q.code(r, c), s.qmax());
            // Round-to-nearest: the error is at most half a step (plus float slack).
            ASSERT_LE(std::fabs(d(r, c) - w(r, c)), 0.5f * q.scale(r, c) * 1.0001f + 1e-6f)
                << g << " bits " << bits << " sym " << sym;
          }
        }
      }
    }
  }
}

TEST(Quantize, SixteenBitsMeansUnchanged) {
  QuantSpec s;
  s.bits = 16;
  MatrixF x = MatrixF::Random(3, 5);
  EXPECT_EQ(fake_quantize(x, s, "x"), x);
}

TEST(QuantizeErrors, BadInputNamesTheParameter) {
  QuantSpec s = sym8();
  s.bits = 9;
  try {
    s.validate("weight spec");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bits = 9"), std::string::npos);
  }
  EXPECT_THROW(quantize(MatrixF(0, 4), sym8(), "x"), Error);
  MatrixF nan = MatrixF::Ones(2, 3);
  nan(1, 2) = std::nanf("");
  try {
    quantize(nan, sym8(), "act");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN at row 1, channel 2"), std::string::npos);
  }
  QuantSpec g;
  EXPECT_THROW(parse_granularity("per-token", TensorRole::kWeight, g), Error);
  EXPECT_THROW(parse_granularity("group", TensorRole::kWeight, g), Error);
  EXPECT_THROW(parse_granularity("groupx", TensorRole::kWeight, g), Error);
  EXPECT_THROW(parse_bits("1", "--w-bits"), Error);
  EXPECT_THROW(parse_bits("abc", "--w-bits"), Error);
  EXPECT_EQ(parse_bits("16", "--w-bits"), 16);
}

// G that does not divide K: the last group of each row is narrower and has
// its own scale from its own columns (docs/quantization.md, "Granularity").
TEST(Quantize, RaggedLastGroupHasItsOwnScale) {
  QuantSpec g = sym8();
  parse_granularity("group4", TensorRole::kWeight, g);
  MatrixF w(2, 10);
  for (long c = 0; c < 10; ++c) {
    w(0, c) = float(c + 1);          // groups {1..4}, {5..8}, {9, 10}
    w(1, c) = c < 8 ? 1.0f : 100.0f;  // the outliers sit in the short group only
  }
  const QuantizedMatrix q = quantize(w, g, "w");
  ASSERT_EQ(q.params.scale.size(), 6u);  // 2 rows x ceil(10 / 4)
  EXPECT_FLOAT_EQ(q.scale(0, 9), 10.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.scale(0, 4), 8.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.scale(1, 3), 1.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.scale(1, 8), 100.0f / 127.0f);
  EXPECT_EQ(q.code(1, 9), 127);
  EXPECT_EQ(q.code(1, 0), 127);  // not crushed by the outlier group
}

}  // namespace
}  // namespace sqsim
