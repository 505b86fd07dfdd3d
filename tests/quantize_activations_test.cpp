// kernels/quantize_activations.h: the parallel int8 activation operand equals
// to_int8(pad_columns(quantize(...))) bit for bit, whatever the thread count,
// and fails with the same message (naming the same row) on a NaN.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "kernels/quantize_activations.h"
#include "base/error.h"

namespace sqsim::kernels {
namespace {

MatrixF random_x(long rows, long cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  MatrixF x(rows, cols);
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c) x(r, c) = d(rng) * (c % 37 == 0 ? 40.0f : 1.0f);
  if (rows > 70) {
    x.row(3).setZero();                    // absmax below 1e-5: the floor scale
    x.row(64).setConstant(-1e-7f);
    x(70, 0) = 1e30f;                      // one huge outlier
  }
  return x;
}

void expect_same(const Int8Matrix& a, const Int8Matrix& b, const std::string& what) {
  EXPECT_EQ(a.rows, b.rows) << what;
  EXPECT_EQ(a.cols, b.cols) << what;
  EXPECT_EQ(a.group_size, b.group_size) << what;
  EXPECT_EQ(a.bits, b.bits) << what;
  EXPECT_EQ(a.layout.row_stride, b.layout.row_stride) << what;
  EXPECT_EQ(a.layout.group_stride, b.layout.group_stride) << what;
  EXPECT_TRUE(a.codes == b.codes) << what;
  ASSERT_EQ(a.scale.size(), b.scale.size()) << what;
  EXPECT_EQ(std::memcmp(a.scale.data(), b.scale.data(), a.scale.size() * sizeof(float)), 0) << what;
}

TEST(QuantizeActivations, EqualsQuantizeThenToInt8) {
  QuantSpec per_token;
  per_token.bits = 8;
  per_token.symmetric = true;
  per_token.granularity = Granularity::kPerRow;
  QuantSpec per_group = per_token;
  per_group.granularity = Granularity::kPerGroup;
  per_group.group_size = 64;
  QuantSpec per_tensor = per_token;  // not row-wise: the whole-matrix path
  per_tensor.granularity = Granularity::kPerTensor;
  QuantSpec ragged = per_group;  // 576 = 4.5 groups: the last one narrower, padded to 640
  ragged.group_size = 128;
  QuantSpec four_bit = per_token;
  four_bit.bits = 4;
  QuantSpec reciprocal = per_token;
  reciprocal.scale_rule = ScaleRule::kReciprocal;
  for (const QuantSpec& spec : {per_token, per_group, per_tensor, ragged, four_bit, reciprocal}) {
    for (long rows : {1L, 63L, 64L, 65L, 300L}) {
      for (long cols : {128L, 576L}) {
        const MatrixF x = random_x(rows, cols, uint32_t(rows * 7 + cols));
        for (long pad : {0L, 64L}) {
          const QuantizedMatrix q = quantize(x, spec, "x");
          const Int8Matrix want = to_int8(pad ? pad_columns(q, cols + pad) : q, "x");
          for (int threads : {1, 2, 3}) {
            tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
            expect_same(quantize_activations_int8(x, spec, nullptr, cols + pad, "x"), want,
                        "rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " pad " +
                            std::to_string(pad) + " threads " + std::to_string(threads));
          }
        }
      }
    }
  }
}

TEST(QuantizeActivations, NaNNamesTheRowOfTheWholeMatrix) {
  QuantSpec spec;
  spec.bits = 8;
  spec.granularity = Granularity::kPerRow;
  MatrixF x = random_x(300, 64, 5);
  x(201, 7) = std::numeric_limits<float>::quiet_NaN();
  std::string want, got;
  try {
    (void)quantize(x, spec, "layer input");
  } catch (const Error& e) {
    want = e.what();
  }
  try {
    (void)quantize_activations_int8(x, spec, nullptr, 64, "layer input");
  } catch (const Error& e) {
    got = e.what();
  }
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace sqsim::kernels
