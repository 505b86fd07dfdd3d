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

// q, k and v read one input: packed once (SharedInput), each layer's output
// has the bits of its own forward, rows not filling the panels included.
TEST(FloatLinearWeights, SharedInputGivesEachLayersOwnBits) {
  for (long rows : {1L, 13L, 200L}) {
    const MatrixF x = random_matrix(rows, 96, unsigned(rows));
    const FloatLinear q(random_matrix(96, 96, 1)), k(random_matrix(33, 96, 2), random_matrix(1, 33, 3).row(0));
    const SharedInput in(x);
    EXPECT_TRUE(q.forward_shared(in) == q.forward(x)) << rows << " rows";
    EXPECT_TRUE(k.forward_shared(in) == k.forward(x)) << rows << " rows";
    EXPECT_TRUE(q.forward_shared(in) == q.forward(x)) << rows << " rows, packed A reused";
    // a layer of another input width ignores the shared pack and says why it fails
    const FloatLinear wide(random_matrix(8, 97, 4));
    EXPECT_THROW(wide.forward_shared(in), Error);
  }
}
