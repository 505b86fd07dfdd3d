// The integer reference path equals an independent float64 computation of the
// same quantized values; unsafe shapes are refused before any arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/gemm.h"
#include "kernels/gemm_reference.h"
#include "kernels/quantized_linear.h"
#include "kernels/sgemm.h"
#include "base/error.h"
#include "quant/error_metrics.h"
#include "tests/gemm_test_data.h"

namespace sqsim::kernels {
namespace {

MatrixF random_matrix(long r, long c, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  MatrixF m(r, c);
  for (long i = 0; i < m.size(); ++i) m.data()[i] = nd(rng);
  return m;
}

QuantSpec spec(int bits, const char* gran, TensorRole role, bool sym = true) {
  QuantSpec s;
  s.bits = bits;
  s.symmetric = sym;
  parse_granularity(gran, role, s);
  return s;
}

// y64[m,n] = sum_k dequant(A)[m,k] * dequant(B)[n,k] in float64.
MatrixD float64_product(const MatrixF& a, const MatrixF& b) {
  return a.cast<double>() * b.cast<double>().transpose();
}

void expect_close(const MatrixF& y, const MatrixD& ref, double rel) {
  ASSERT_EQ(y.rows(), ref.rows());
  ASSERT_EQ(y.cols(), ref.cols());
  const double scale = ref.cwiseAbs().maxCoeff();
  for (long i = 0; i < y.size(); ++i) {
    ASSERT_NEAR(y.data()[i], ref.data()[i], rel * scale + 1e-30) << "element " << i;
  }
}

TEST(GemmReference, Int8AccumulatorsAreExact) {
  const MatrixF x = random_matrix(5, 96, 1), w = random_matrix(7, 96, 2);
  const auto qa = quantize(x, spec(8, "per-token", TensorRole::kActivation), "x");
  const auto qb = quantize(w, spec(8, "group32", TensorRole::kWeight), "w");
  const Int8Matrix a = to_int8(qa, "x"), b = to_int8(qb, "w");
  const long g = validate_s8s8(a, b, "t");
  ASSERT_EQ(g, 32);
  std::vector<int32_t> acc(5 * 7 * 3);
  gemm_s8s8s32_reference(a, b, g, acc.data());
  for (long m = 0; m < 5; ++m)
    for (long n = 0; n < 7; ++n)
      for (long gi = 0; gi < 3; ++gi) {
        long long sum = 0;
        for (long k = gi * 32; k < (gi + 1) * 32; ++k) sum += (long long)qa.code(m, k) * qb.code(n, k);
        ASSERT_EQ(acc[(m * 7 + n) * 3 + gi], sum);
      }
}

TEST(GemmReference, Int8OutputEqualsFloat64OfTheQuantizedValues) {
  for (const char* wg : {"per-tensor", "per-channel", "group64"}) {
    for (const char* ag : {"per-tensor", "per-token"}) {
      const MatrixF x = random_matrix(9, 128, 3, 5.0f), w = random_matrix(11, 128, 4, 0.1f);
      const auto qa = quantize(x, spec(8, ag, TensorRole::kActivation), "x");
      const auto qb = quantize(w, spec(8, wg, TensorRole::kWeight), "w");
      const MatrixF y = linear_s8s8(to_int8(qa, "x"), to_int8(qb, "w"), nullptr, KernelPath::kReference);
      expect_close(y, float64_product(dequantize(qa), dequantize(qb)), 1e-6);
    }
  }
}

TEST(GemmReference, EpilogueOrderIsTheDocumentedOne) {
  // One output, two groups: y = (acc0*sa)*sb0 + (acc1*sa)*sb1, then + bias.
  Int8Matrix a, b;
  a.rows = 1;
  a.cols = 4;
  a.group_size = 4;
  a.codes = {1, 2, 3, 4};
  a.scale = {0.1f};
  b.rows = 1;
  b.cols = 4;
  b.group_size = 2;
  b.codes = {5, -6, 7, 8};
  b.scale = {0.3f, 0.7f};
  b.layout = {2, 1};
  const float bias = 0.25f;
  const MatrixF y = linear_s8s8(a, b, &bias, KernelPath::kReference);
  const float t0 = (static_cast<float>(1 * 5 + 2 * -6) * 0.1f) * 0.3f;
  const float t1 = (static_cast<float>(3 * 7 + 4 * 8) * 0.1f) * 0.7f;
  const float expected = (t0 + t1) + bias;
  EXPECT_EQ(y(0, 0), expected);  // bit for bit
}

TEST(GemmReference, Int4WeightsPackedTwoPerByte) {
  const MatrixF w = random_matrix(6, 128, 5);
  for (bool sym : {false, true}) {
    const auto qb = quantize(w, spec(4, "group64", TensorRole::kWeight, sym), "w");
    const Int4Matrix b = to_int4(qb, "w");
    ASSERT_EQ(b.packed.size(), 6u * 64u);
    for (long n = 0; n < 6; ++n)
      for (long k = 0; k < 128; ++k) ASSERT_EQ(b.code(n, k), qb.code(n, k));
    // Element 2i is the low nibble of byte i.
    EXPECT_EQ(b.packed[0] & 0x0F, static_cast<uint8_t>(qb.code(0, 0)) & 0x0F);
    EXPECT_EQ(b.packed[0] >> 4, static_cast<uint8_t>(qb.code(0, 1)) & 0x0F);
  }
}

// int4_as_int8 (what W4A8 feeds the int8 kernels) is q - zp of every code, for
// both code kinds, even group sizes (the fast byte loop) and odd ones.
TEST(GemmReference, Int4AsInt8IsCodeMinusZeroPoint) {
  Int4Matrix b;
  b.rows = 5;
  b.cols = 36;
  std::mt19937 rng(3);
  for (long g : {2L, 4L, 12L, 36L, 3L, 9L}) {
    for (bool sym : {false, true}) {
      b.group_size = g;
      b.is_signed = sym;
      b.packed.resize(size_t(b.rows * b.cols / 2));
      for (auto& byte : b.packed) byte = uint8_t(rng());
      b.zero_point.resize(size_t(b.rows * b.groups()));
      for (auto& z : b.zero_point) z = sym ? 0 : int32_t(rng() % 16);
      const Int8Matrix w = int4_as_int8(b);
      for (long n = 0; n < b.rows; ++n)
        for (long k = 0; k < b.cols; ++k)
          ASSERT_EQ(w.codes[size_t(n * b.cols + k)], b.code(n, k) - b.zero_point[size_t(n * b.groups() + k / g)])
              << "group " << g << " signed " << sym << " at " << n << "," << k;
    }
  }
}

TEST(GemmReference, W4A8AndW4A16EqualFloat64OfTheQuantizedValues) {
  const MatrixF x = random_matrix(4, 256, 6, 2.0f), w = random_matrix(10, 256, 7, 0.05f);
  for (const char* g : {"group64", "group128", "group256", "per-channel"}) {
    const auto qb = quantize(w, spec(4, g, TensorRole::kWeight, false), "w");
    const Int4Matrix b = to_int4(qb, "w");
    const auto qa = quantize(x, spec(8, "per-token", TensorRole::kActivation), "x");
    const MatrixF y8 = linear_s8s4(to_int8(qa, "x"), b, nullptr, KernelPath::kReference);
    expect_close(y8, float64_product(dequantize(qa), dequantize(qb)), 1e-6);
    const MatrixF y16 = linear_f32s4(x, b, nullptr, KernelPath::kReference);
    expect_close(y16, float64_product(x, dequantize(qb)), 1e-5);
  }
}

TEST(GemmReference, RefusesShapesThatCouldOverflowInt32) {
  Int8Matrix a, b;
  a.rows = b.rows = 1;
  a.cols = b.cols = a.group_size = b.group_size = 131072;  // 131072 * 128 * 128 = 2^31
  a.layout = b.layout = {0, 0};
  try {
    validate_s8s8(a, b, "layer.q_proj");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("could overflow int32"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("layer.q_proj"), std::string::npos);
  }
  a.cols = b.cols = a.group_size = b.group_size = 131071;
  EXPECT_NO_THROW(validate_s8s8(a, b, "ok"));
  // Groups keep each accumulator short, so the same K is fine with group weights.
  a.cols = b.cols = a.group_size = 262144;
  b.group_size = 128;
  EXPECT_NO_THROW(validate_s8s8(a, b, "grouped"));
}

TEST(GemmReference, RefusesMismatchedShapes) {
  const auto qa = quantize(random_matrix(2, 64, 8), spec(8, "per-token", TensorRole::kActivation), "x");
  const auto qb = quantize(random_matrix(3, 32, 9), spec(8, "per-channel", TensorRole::kWeight), "w");
  EXPECT_THROW(linear_s8s8(to_int8(qa, "x"), to_int8(qb, "w"), nullptr), Error);
  // Per-channel activation scales cannot be applied after the integer sum.
  const auto qc = quantize(random_matrix(2, 64, 8), spec(8, "per-channel", TensorRole::kActivation), "x");
  EXPECT_THROW(to_int8(qc, "x"), Error);
}

TEST(QuantizedLinear, IntegerAndFakeQuantAgreeToFloatRounding) {
  const MatrixF x = random_matrix(16, 192, 10, 3.0f), w = random_matrix(24, 192, 11, 0.1f);
  const float bias[24] = {0};
  for (int wbits : {8, 4}) {
    const QuantSpec ws = spec(wbits, "group64", TensorRole::kWeight, wbits == 8);
    const QuantSpec as = spec(8, "per-token", TensorRole::kActivation);
    const auto ri = quantized_linear(x, w, bias, ws, as, nullptr, EmulationMode::kInteger, KernelPath::kAuto, "l");
    const auto rf = quantized_linear(x, w, bias, ws, as, nullptr, EmulationMode::kFakeQuant, KernelPath::kAuto, "l");
    EXPECT_TRUE(ri.used_integer_kernel);
    EXPECT_FALSE(rf.used_integer_kernel);
    EXPECT_EQ(ri.w_dequant, rf.w_dequant);
    EXPECT_EQ(ri.x_dequant, rf.x_dequant);
    EXPECT_LT(compare(rf.y, ri.y, "y").rel_err, 1e-5);
  }
}

// PreparedLinear against the products written out by hand: the integer kernels
// on the padded operands (K = 200 leaves a ragged last group of 64), and the two
// fake-quant products; each entry point (float x, int8 x, pre-quantized weights)
// gives the same bits.
TEST(PreparedLinear, EveryEntryGivesTheBitsOfTheProductsItStandsFor) {
  using gemm_test::same_bits;
  const float bias[24] = {0.5f, -1.0f, 2.0f, 0.25f, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -7};
  for (long k : {192L, 200L}) {
    const MatrixF x = random_matrix(7, k, 12, 3.0f), w = random_matrix(24, k, 13, 0.1f);
    for (int wbits : {8, 4}) {
      for (int abits : {8, 16}) {
        if (wbits == 8 && abits == 16) continue;  // float activations take int4 weights only
        LinearQuantSpec ls;
        ls.weight = spec(wbits, "group64", TensorRole::kWeight, wbits == 8);
        ls.act = spec(abits, "per-token", TensorRole::kActivation);
        const std::string ctx = "k " + std::to_string(k) + " w" + std::to_string(wbits) + "a" + std::to_string(abits);
        const PreparedLinear p(w, bias, ls, "l");
        ASSERT_TRUE(p.uses_integer_kernel()) << ctx;
        const long kp = padded_reduction_length(ls.act, ls.weight, k);
        EXPECT_EQ(p.padded_k(), kp) << ctx;
        const QuantizedMatrix qw = quantize(w, ls.weight, "l weight");
        MatrixF want;
        if (abits == 16) {
          MatrixF xp = MatrixF::Zero(x.rows(), kp);
          xp.leftCols(k) = x;
          want = linear_f32s4(xp, to_int4(pad_columns(qw, kp), "w"), bias);
        } else {
          const Int8Matrix a = to_int8(pad_columns(quantize(x, ls.act, "x"), kp), "x");
          want = wbits == 4 ? linear_s8s4(a, to_int4(pad_columns(qw, kp), "w"), bias)
                            : linear_s8s8(a, to_int8(pad_columns(qw, kp), "w"), bias);
          EXPECT_TRUE(same_bits(p.run(a), want)) << ctx;
        }
        EXPECT_TRUE(same_bits(p.run(x), want)) << ctx;
        EXPECT_TRUE(same_bits(PreparedLinear(qw, bias, ls, "l").run(x), want)) << ctx;
        EXPECT_EQ(p.dequantized_weight(), dequantize(qw)) << ctx;

        // Fake-quant: Eigen's product then the bias, or sgemm with the bias.
        ls.mode = EmulationMode::kFakeQuant;
        const MatrixF xq = fake_quantize(x, ls.act, "x"), wq = dequantize(qw);
        MatrixF eigen;
        eigen.noalias() = xq * wq.transpose();
        for (long m = 0; m < eigen.rows(); ++m)
          for (long n = 0; n < eigen.cols(); ++n) eigen(m, n) = eigen(m, n) + bias[n];
        EXPECT_TRUE(same_bits(PreparedLinear(w, bias, ls, "l").run(x), eigen)) << ctx;
        ls.product = FakeQuantProduct::kSgemm;
        MatrixF fused(x.rows(), w.rows());
        SgemmArgs g;
        g.m = x.rows();
        g.n = w.rows();
        g.k = k;
        g.a = xq.data();
        g.lda = k;
        g.b = wq.data();
        g.ldb = k;
        g.c = fused.data();
        g.ldc = fused.cols();
        g.bias = bias;
        const PackedB packed = pack_b(wq.data(), k, BLayout::kNK, w.rows(), k);  // as FloatLinear
        sgemm_parallel(g, &packed);
        EXPECT_TRUE(same_bits(PreparedLinear(w, bias, ls, "l").run(x), fused)) << ctx;
      }
    }
  }
}

TEST(KernelPath, ParsingAndAvailability) {
  EXPECT_EQ(parse_kernel_path("reference"), KernelPath::kReference);
  EXPECT_THROW(parse_kernel_path("cuda"), Error);
  EXPECT_EQ(available_kernel_paths().front(), KernelPath::kReference);
  EXPECT_EQ(resolve_kernel_path(KernelPath::kReference), KernelPath::kReference);
}

}  // namespace
}  // namespace sqsim::kernels
