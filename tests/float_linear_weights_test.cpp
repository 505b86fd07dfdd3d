// FloatLinear keeps one copy of its weight (the packed one where the
// AVX-512 GEMM packs: docs/memory.md): weight() gives back the exact floats
// it was built from, and forward() the product of the plain weight, on shapes
// whose rows do not fill the kernel's panels.
#include <gtest/gtest.h>

#include <random>

#include "base/error.h"
#include "kernels/sgemm.h"
#include "sim/models/linear_layer.h"

using namespace sqsim;

namespace {

MatrixF random_matrix(long rows, long cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  MatrixF m(rows, cols);
  for (long i = 0; i < m.size(); ++i) m.data()[i] = d(rng);
  return m;
}

}  // namespace

TEST(FloatLinearWeights, UnpackGivesTheExactWeightBack) {
  for (const auto& [out, in] : {std::pair{1L, 1L}, {31L, 7L}, {33L, 65L}, {64L, 576L}, {300L, 32L}}) {
    const MatrixF w = random_matrix(out, in, unsigned(out * 1000 + in));
    const kernels::PackedB p = kernels::pack_b(w.data(), in, kernels::BLayout::kNK, out, in);
    if (!p.empty()) {
      MatrixF back(out, in);
      kernels::unpack_b(p, back.data());
      EXPECT_TRUE(back == w) << out << " x " << in;
    }
    const FloatLinear layer(w);
    EXPECT_EQ(layer.out_features(), out);
    EXPECT_EQ(layer.in_features(), in);
    EXPECT_TRUE(layer.weight() == w) << out << " x " << in;
    const FloatLinear copy = layer;  // shares the packed weight
    EXPECT_TRUE(copy.weight() == w);
  }
}

TEST(FloatLinearWeights, UnpackRefusesAnEmptyPack) {
  EXPECT_THROW(kernels::unpack_b(kernels::PackedB{}, nullptr), Error);
}

TEST(FloatLinearWeights, ForwardIsTheProductOfThePlainWeight) {
  const MatrixF w = random_matrix(45, 70, 3), x = random_matrix(13, 70, 4);
  VectorF bias(45);
  for (long i = 0; i < bias.size(); ++i) bias[i] = float(i) * 0.25f;
  const FloatLinear layer(w, bias);
  MatrixF want(13, 45);
  kernels::SgemmArgs g;
  g.m = 13;
  g.n = 45;
  g.k = 70;
  g.a = x.data();
  g.lda = 70;
  g.b = w.data();
  g.ldb = 70;
  g.c = want.data();
  g.ldc = 45;
  g.bias = bias.data();
  kernels::sgemm_parallel(g);  // packs B itself
  EXPECT_TRUE(layer.forward(x) == want);
  EXPECT_THROW(layer.forward(MatrixF(2, 69)), Error);
}
