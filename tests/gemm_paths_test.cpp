// Every kernel path (reference, avx2, avx512-vnni, amx, and amx-emulated: the
// AMX driver on the tile emulator, on every CPU) returns the reference's bits
// through the dispatched API, with and without weights packed once
// (kernels/packed_weights.h). A path this CPU or OS cannot run is skipped,
// saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/sgemm.h"
#include "kernels/gemm_reference.h"
#include "base/error.h"
#include "tests/gemm_test_data.h"

namespace sqsim::kernels {
namespace {

using namespace gemm_test;

class GemmPaths : public ::testing::TestWithParam<KernelPath> {
 protected:
  void SetUp() override {
    const std::vector<KernelPath> paths = tested_kernel_paths();
    if (std::find(paths.begin(), paths.end(), GetParam()) != paths.end()) return;
    if (GetParam() == KernelPath::kAmx) GTEST_SKIP() << "kernel path amx not usable here: " << amx_state().detail;
    GTEST_SKIP() << "kernel path " << kernel_path_name(GetParam()) << " not usable here: the CPU lacks "
                 << (GetParam() == KernelPath::kAvx2 ? "avx2/fma" : "avx512f/bw/vl/vnni") << " (has: "
                 << describe(cpu_features()) << ")";
  }
};

std::string describe_shape(long m, long k, long n, long ga, long gb) {
  return "M=" + std::to_string(m) + " K=" + std::to_string(k) + " N=" + std::to_string(n) + " ga=" +
         std::to_string(ga) + " gb=" + std::to_string(gb);
}

TEST_P(GemmPaths, Int8EqualsReferenceWithAndWithoutPacking) {
  const KernelPath path = GetParam();
  // {M, K, N, activation group, weight group}: M = 1, odd N, K not a multiple
  // of 64 or of 4, activation groups finer than the packing's; M large
  // enough for the VNNI kernel's row bands (tile_loop.h) with one and with
  // several accumulator groups.
  const std::vector<std::array<long, 5>> shapes = {
      {1, 64, 7, 64, 64},    {1, 576, 129, 576, 576}, {3, 100, 33, 100, 20}, {17, 200, 40, 200, 200},
      {5, 72, 9, 72, 18},    {2, 6, 3, 6, 2},         {4, 1, 5, 1, 1},       {33, 384, 65, 128, 384},
      {70, 256, 17, 256, 64}, {8, 1000, 21, 1000, 1000}, {1200, 40, 70, 40, 40}, {1100, 64, 20, 64, 16}};
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
        // Packed for the other kind of call only: that call packs on the fly, same bits.
        const PackedS4Weights packed_w4a16 = pack_s4_weights(b, path, S4Use::kW4A16);
        const PackedS4Weights packed_w4a8 = pack_s4_weights(b, path, S4Use::kW4A8);
        std::vector<float> bias(n, -1.25f);
        const std::string what = "M=" + std::to_string(m) + " K=" + std::to_string(k) + " N=" + std::to_string(n) +
                                 " gs=" + std::to_string(gs) + " signed=" + std::to_string(is_signed) +
                                 " extreme=" + std::to_string(extreme);
        // W4A8
        const Int8Matrix a = make(m, k, k, 8, extreme ? Codes::kMin : Codes::kRandom, Scales::kPerRow, seed + 1);
        const MatrixF ref8 = linear_s8s4_reference(a, b, bias.data());
        EXPECT_TRUE(same_bits(linear_s8s4(a, b, bias.data(), path), ref8)) << "W4A8 " << what;
        EXPECT_TRUE(same_bits(linear_s8s4(a, packed, bias.data()), ref8)) << "W4A8 packed " << what;
        EXPECT_TRUE(same_bits(linear_s8s4(a, packed_w4a8, bias.data()), ref8)) << "W4A8 packed for W4A8 " << what;
        EXPECT_TRUE(same_bits(linear_s8s4(a, packed_w4a16, bias.data()), ref8)) << "W4A8 packed for W4A16 " << what;
        // W4A16, with signed zeros and large magnitudes in X
        std::mt19937 rng(seed + 2);
        std::normal_distribution<float> nd(0.0f, 2.0f);
        MatrixF x(m, k);
        for (long i = 0; i < x.size(); ++i) x.data()[i] = (i % 11 == 0) ? -0.0f : nd(rng) * (i % 7 == 0 ? 1e3f : 1.0f);
        for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
          const MatrixF ref = linear_f32s4_reference(x, b, bp);
          EXPECT_TRUE(same_bits(linear_f32s4(x, b, bp, path), ref)) << "W4A16 " << what;
          EXPECT_TRUE(same_bits(linear_f32s4(x, packed, bp), ref)) << "W4A16 packed " << what;
          EXPECT_TRUE(same_bits(linear_f32s4(x, packed_w4a16, bp), ref)) << "W4A16 packed for W4A16 " << what;
          EXPECT_TRUE(same_bits(linear_f32s4(x, packed_w4a8, bp), ref)) << "W4A16 packed for W4A8 " << what;
          // x packed once by the caller (SharedInput), as the float layers share it
          const PackedA pa = pack_a(x.data(), k, m, k);
          EXPECT_TRUE(same_bits(linear_f32s4(x, packed, bp, &pa), ref)) << "W4A16 packed, x packed " << what;
          // x short of a ragged last group: its missing columns are +0
          if (gs > 1) {
            const long kx = k - std::max(1L, gs / 3);
            const MatrixF xs = x.leftCols(kx);
            MatrixF xp = MatrixF::Zero(m, k);
            xp.leftCols(kx) = xs;
            const MatrixF refs = linear_f32s4_reference(xp, b, bp);
            const PackedA pas = pack_a(xs.data(), kx, m, kx);
            EXPECT_TRUE(same_bits(linear_f32s4(xs, packed, bp), refs)) << "W4A16 packed, x short " << what;
            EXPECT_TRUE(same_bits(linear_f32s4(xs, packed, bp, &pas), refs)) << "W4A16 packed, x short, packed "
                                                                              << what;
          }
        }
      }
    }
  }
}

// The padding of a ragged last group is part of W4A16's FMA chain: a chain
// that is exactly -0 (products that underflow to -0) becomes +0 when a padded
// product +0 * (+0) is added, and stays -0 when the padded weight is -0 (a
// negative scale). A kernel that skips the padded columns must keep that.
TEST(GemmW4A16PackedA, ShortInputKeepsThePaddingsSignedZeros) {
  Int4Matrix b;
  b.rows = 3;
  b.cols = 64;
  b.group_size = 32;
  b.packed.assign(size_t(3 * 32), 0);
  b.scale = {1e-30f, 1e-30f, -1e-30f, -1e-30f, 0.5f, 0.25f};
  b.zero_point = {8, 8, 8, 8, 8, 8};
  const long kx = 40;
  // code 9 (w = s) in row 0, 7 (w = -s) in row 1, 10 in row 2, for k < kx; the zero point from kx on.
  const int real[3] = {9, 7, 10};
  for (long r = 0; r < 3; ++r)
    for (long c = 0; c < 64; ++c) {
      const int code = c < kx ? real[r] : 8;
      uint8_t& byte = b.packed[size_t(r * 32 + c / 2)];
      byte = uint8_t((c & 1) ? (byte & 0x0F) | (code << 4) : (byte & 0xF0) | code);
    }
  MatrixF xs = MatrixF::Constant(2, kx, -1e-30f);
  xs.row(1).setConstant(0.75f);
  MatrixF xp = MatrixF::Zero(2, 64);
  xp.leftCols(kx) = xs;
  const std::vector<float> minus_zero(3, -0.0f);
  for (const float* bias : {static_cast<const float*>(nullptr), minus_zero.data()}) {
    const MatrixF ref = linear_f32s4_reference(xp, b, bias);
    // row 0 of x: every product underflows to -0; the padding turns row 0 of b's chain to +0, not row 1's
    ASSERT_FALSE(std::signbit(ref(0, 0)));
    ASSERT_TRUE(std::signbit(ref(0, 1)));
    for (KernelPath path : {KernelPath::kReference, KernelPath::kAuto}) {
      const PackedS4Weights packed = pack_s4_weights(b, path, S4Use::kW4A16);
      const PackedA pa = pack_a(xs.data(), kx, 2, kx);
      EXPECT_TRUE(same_bits(linear_f32s4(xs, packed, bias), ref)) << kernel_path_name(path);
      EXPECT_TRUE(same_bits(linear_f32s4(xs, packed, bias, &pa), ref)) << kernel_path_name(path);
    }
  }
}

// W4A16 given x packed for another shape: refused in one line, as sgemm refuses it.
TEST(GemmW4A16PackedA, PackedAOfAnotherShapeIsRefused) {
  const Int4Matrix b = make_int4(40, 128, 64, false, 4, 0, 7);
  const PackedS4Weights packed = pack_s4_weights(b, KernelPath::kAuto, S4Use::kW4A16);
  if (!packed.f32) GTEST_SKIP() << "this CPU's path does not keep W4A16 panels (no AVX-512)";
  const MatrixF x = MatrixF::Constant(3, 128, 0.5f), other = MatrixF::Constant(4, 128, 0.5f);
  const PackedA pa = pack_a(other.data(), 128, 4, 128);
  try {
    linear_f32s4(x, packed, nullptr, &pa);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("packed activations are 4 x 128, the product needs 3 x 128"),
              std::string::npos)
        << e.what();
  }
}

// Overwrites some scales with extreme values: huge (products overflow to inf),
// tiny, subnormal, zero, negative and infinite, so the fused epilogue's
// float operations are checked where rounding, overflow and underflow bite.
void extreme_scales(std::vector<float>& scale, uint32_t seed) {
  static const float kValues[] = {1e30f, 3.0e38f, 1e-30f, 1e-40f, 1.4e-45f, -2.5f, 0.0f, -0.0f,
                                  std::numeric_limits<float>::infinity(), 7.0f, 1e-3f};
  std::mt19937 rng(seed);
  for (float& v : scale) {
    if (rng() % 3 == 0) v = kValues[rng() % (sizeof(kValues) / sizeof(kValues[0]))];
  }
}

// The fused int8 epilogue over every combination of activation granularity
// (per-tensor, per-token, per-group) and weight granularity (per-tensor,
// per-channel, per-group), group sizes 32/64/128 on either side (activation
// groups finer than the weights' and the reverse), groups of 20 (padded to
// 4-byte quads), M = 1, odd N, bias and none, packed and unpacked, random and
// extreme scales: memcmp against the reference.
TEST_P(GemmPaths, FusedEpilogueEqualsReferenceForEveryGranularity) {
  const KernelPath path = GetParam();
  const Scales kinds[] = {Scales::kPerTensor, Scales::kPerRow, Scales::kPerGroup};
  const std::vector<std::array<long, 3>> groupings = {  // K, activation group, weight group
      {384, 384, 384}, {384, 384, 32}, {384, 384, 64}, {384, 384, 128}, {384, 32, 384}, {384, 64, 128},
      {384, 128, 32},  {384, 64, 64},  {100, 100, 20}, {100, 20, 100},  {96, 32, 32}};
  const std::vector<std::array<long, 2>> mn = {{1, 1}, {1, 17}, {5, 48}, {33, 31}};
  uint32_t seed = 5000;
  for (const auto& gr : groupings) {
    const long k = gr[0];
    for (Scales sa : kinds) {
      for (Scales sb : kinds) {
        for (const auto& d : mn) {
          for (int variant = 0; variant < 2; ++variant) {
            seed += 3;
            const long m = d[0], n = d[1];
            Int8Matrix a = make(m, k, gr[1], 8, Codes::kRandom, sa, seed);
            Int8Matrix b = make(n, k, gr[2], 8, Codes::kRandom, sb, seed + 1);
            if (variant == 1) {
              extreme_scales(a.scale, seed + 2);
              extreme_scales(b.scale, seed + 3);
            }
            std::vector<float> bias(n);
            std::mt19937 rng(seed + 4);
            std::normal_distribution<float> nd(0.0f, 3.0f);
            for (float& v : bias) v = nd(rng);
            if (variant == 1 && n > 2) bias[1] = -std::numeric_limits<float>::infinity();
            const std::string what = describe_shape(m, k, n, gr[1], gr[2]) + " sa=" + std::to_string(int(sa)) +
                                     " sb=" + std::to_string(int(sb)) + " variant=" + std::to_string(variant);
            const PackedS8Weights packed = pack_s8_weights(b, path);
            for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
              const MatrixF ref = linear_s8s8_reference(a, b, bp);
              ASSERT_TRUE(same_bits(linear_s8s8(a, b, bp, path), ref)) << what;
              ASSERT_TRUE(same_bits(linear_s8s8(a, packed, bp), ref)) << "packed " << what;
            }
            // W4A8 with the same activations: int4 weights always carry per-group scales.
            Int4Matrix b4 = make_int4(n, k, gr[2], variant == 1, 4, 0, seed + 5);
            if (variant == 1) extreme_scales(b4.scale, seed + 6);
            const PackedS4Weights packed4 = pack_s4_weights(b4, path);
            const MatrixF ref4 = linear_s8s4_reference(a, b4, bias.data());
            ASSERT_TRUE(same_bits(linear_s8s4(a, b4, bias.data(), path), ref4)) << "W4A8 " << what;
            ASSERT_TRUE(same_bits(linear_s8s4(a, packed4, bias.data()), ref4)) << "W4A8 packed " << what;
          }
        }
      }
    }
  }
}

// Accumulators at the int32 extremes the overflow check allows, per group:
// every group sums 131071 products of -128 x -128 (2^31 - 2^14) or of
// -128 x 127 (about -2^31), with per-group scales on both sides.
TEST_P(GemmPaths, FusedEpilogueAtInt32Extremes) {
  const KernelPath path = GetParam();
  const long gs = 131071, k = 2 * gs;
  for (Codes cb : {Codes::kMin, Codes::kMax, Codes::kAlternating}) {
    const Int8Matrix a = make(2, k, gs, 8, Codes::kMin, Scales::kPerGroup, 11);
    Int8Matrix b = make(3, k, gs, 8, cb, Scales::kPerGroup, 12);
    b.scale[0] = 3.0e38f;  // overflows to inf
    b.scale[1] = 1e-40f;   // subnormal
    std::vector<float> bias = {1.0f, -0.0f, 2.5e-38f};
    for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
      const MatrixF ref = linear_s8s8_reference(a, b, bp);
      EXPECT_TRUE(same_bits(linear_s8s8(a, b, bp, path), ref)) << int(cb);
      EXPECT_TRUE(same_bits(linear_s8s8(a, pack_s8_weights(b, path), bp), ref)) << "packed " << int(cb);
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

INSTANTIATE_TEST_SUITE_P(Every, GemmPaths,
                         ::testing::Values(KernelPath::kReference, KernelPath::kAvx2, KernelPath::kAvx512Vnni,
                                           KernelPath::kAmx, KernelPath::kAmxEmulated),
                         [](const ::testing::TestParamInfo<KernelPath>& info) {
                           std::string name = kernel_path_name(info.param);
                           for (char& c : name) c = (c == '-') ? '_' : c;
                           return name;
                         });

}  // namespace
}  // namespace sqsim::kernels
