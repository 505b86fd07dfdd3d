// Every kernel path this CPU runs (reference, avx2, avx512-vnni) returns the
// reference's bits through the dispatched API, with and without weights packed
// once (kernels/packed_weights.h). Paths the CPU lacks are simply not listed.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/gemm_reference.h"
#include "quant/error.h"
#include "tests/gemm_test_data.h"

namespace sqsim::kernels {
namespace {

using namespace gemm_test;

bool same_bits(const MatrixF& x, const MatrixF& y) {
  return x.rows() == y.rows() && x.cols() == y.cols() &&
         std::memcmp(x.data(), y.data(), sizeof(float) * x.size()) == 0;
}

class GemmPaths : public ::testing::TestWithParam<KernelPath> {};

std::string describe_shape(long m, long k, long n, long ga, long gb) {
  return "M=" + std::to_string(m) + " K=" + std::to_string(k) + " N=" + std::to_string(n) + " ga=" +
         std::to_string(ga) + " gb=" + std::to_string(gb);
}

TEST_P(GemmPaths, Int8EqualsReferenceWithAndWithoutPacking) {
  const KernelPath path = GetParam();
  // {M, K, N, activation group, weight group}: M = 1, odd N, K not a multiple
  // of 64 or of 4, activation groups finer than the packing's.
  const std::vector<std::array<long, 5>> shapes = {
      {1, 64, 7, 64, 64},    {1, 576, 129, 576, 576}, {3, 100, 33, 100, 20}, {17, 200, 40, 200, 200},
      {5, 72, 9, 72, 18},    {2, 6, 3, 6, 2},         {4, 1, 5, 1, 1},       {33, 384, 65, 128, 384},
      {70, 256, 17, 256, 64}, {8, 1000, 21, 1000, 1000}};
  uint32_t seed = 40;
  for (const auto& s : shapes) {
    for (Codes codes : {Codes::kRandom, Codes::kMin, Codes::kMax, Codes::kAlternating}) {
      seed += 3;
      const Int8Matrix a = make(s[0], s[1], s[3], 8, codes, Scales::kPerRow, seed);
      const Int8Matrix b = make(s[2], s[1], s[4], 8, codes == Codes::kRandom ? codes : Codes::kMin,
                                s[4] == s[1] ? Scales::kPerRow : Scales::kPerGroup, seed + 1);
      std::vector<float> bias(s[2], 0.5f);
      const MatrixF ref = linear_s8s8_reference(a, b, bias.data());
      EXPECT_TRUE(same_bits(linear_s8s8(a, b, bias.data(), path), ref)) << describe_shape(s[0], s[1], s[2], s[3], s[4]);
      const PackedS8Weights packed = pack_s8_weights(b, path);
      EXPECT_EQ(packed.path, resolve_kernel_path(path));
      EXPECT_TRUE(same_bits(linear_s8s8(a, packed, bias.data()), ref)) << "packed " << describe_shape(s[0], s[1], s[2], s[3], s[4]);
      // The same packing reused for other activations.
      const Int8Matrix a2 = make(s[0] + 2, s[1], s[3], 8, Codes::kRandom, Scales::kPerTensor, seed + 2);
      EXPECT_TRUE(same_bits(linear_s8s8(a2, packed, nullptr), linear_s8s8_reference(a2, b, nullptr)));
    }
  }
}

TEST_P(GemmPaths, Int4EqualsReferenceWithAndWithoutPacking) {
  const KernelPath path = GetParam();
  // {M, K, N, weight group}: the W4A16 groups 64/128/256 and odd ones.
  const std::vector<std::array<long, 4>> shapes = {
      {1, 64, 7, 32},    {1, 512, 33, 64},  {5, 100, 33, 20}, {17, 256, 40, 128}, {3, 200, 1, 200},
      {9, 72, 18, 18},   {2, 48, 5, 16},    {4, 30, 3, 2},    {1, 768, 65, 256}, {33, 576, 65, 64},
      {2, 1024, 17, 256}, {1, 256, 130, 128}};
  uint32_t seed = 900;
  for (bool is_signed : {false, true}) {
    for (int extreme : {0, -1, 1}) {
      for (const auto& s : shapes) {
        const long m = s[0], k = s[1], n = s[2], gs = s[3];
        seed += 5;
        const Int4Matrix b = make_int4(n, k, gs, is_signed, 4, extreme, seed);
        const PackedS4Weights packed = pack_s4_weights(b, path);
        std::vector<float> bias(n, -1.25f);
        const std::string what = "M=" + std::to_string(m) + " K=" + std::to_string(k) + " N=" + std::to_string(n) +
                                 " gs=" + std::to_string(gs) + " signed=" + std::to_string(is_signed) +
                                 " extreme=" + std::to_string(extreme);
        // W4A8
        const Int8Matrix a = make(m, k, k, 8, extreme ? Codes::kMin : Codes::kRandom, Scales::kPerRow, seed + 1);
        const MatrixF ref8 = linear_s8s4_reference(a, b, bias.data());
        EXPECT_TRUE(same_bits(linear_s8s4(a, b, bias.data(), path), ref8)) << "W4A8 " << what;
        EXPECT_TRUE(same_bits(linear_s8s4(a, packed, bias.data()), ref8)) << "W4A8 packed " << what;
        // W4A16, with signed zeros and large magnitudes in X
        std::mt19937 rng(seed + 2);
        std::normal_distribution<float> nd(0.0f, 2.0f);
        MatrixF x(m, k);
        for (long i = 0; i < x.size(); ++i) x.data()[i] = (i % 11 == 0) ? -0.0f : nd(rng) * (i % 7 == 0 ? 1e3f : 1.0f);
        for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
          const MatrixF ref = linear_f32s4_reference(x, b, bp);
          EXPECT_TRUE(same_bits(linear_f32s4(x, b, bp, path), ref)) << "W4A16 " << what;
          EXPECT_TRUE(same_bits(linear_f32s4(x, packed, bp), ref)) << "W4A16 packed " << what;
        }
      }
    }
  }
}

TEST_P(GemmPaths, PackedWeightsRefuseLikeTheReference) {
  const KernelPath path = GetParam();
  const PackedS8Weights packed = pack_s8_weights(make(3, 64, 64, 8, Codes::kRandom, Scales::kPerRow, 1), path);
  EXPECT_THROW(linear_s8s8(make(2, 32, 32, 8, Codes::kRandom, Scales::kPerRow, 2), packed, nullptr), Error);
  const PackedS4Weights packed4 = pack_s4_weights(make_int4(3, 64, 32, false, 4, 0, 3), path);
  EXPECT_THROW(linear_f32s4(MatrixF(2, 10), packed4, nullptr), Error);
  EXPECT_THROW(linear_s8s4(make(2, 32, 32, 8, Codes::kRandom, Scales::kPerRow, 2), packed4, nullptr), Error);
  EXPECT_THROW(linear_s8s8(make(2, 32, 32, 8, Codes::kRandom, Scales::kPerRow, 2), PackedS8Weights{}, nullptr), Error);
}

INSTANTIATE_TEST_SUITE_P(Available, GemmPaths, ::testing::ValuesIn(available_kernel_paths()),
                         [](const ::testing::TestParamInfo<KernelPath>& info) {
                           std::string name = kernel_path_name(info.param);
                           for (char& c : name) c = (c == '-') ? '_' : c;
                           return name;
                         });

}  // namespace
}  // namespace sqsim::kernels
