// The AVX-512 VNNI int8 path returns exactly the reference's bits: int32
// accumulators and float outputs, over random shapes and edge cases. The same
// kernel with vpdpbusd emulated (AVX-512BW) is checked too, so packing, the
// +128 offset compensation and the K tails are covered on CPUs without VNNI.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/x86/avx512_path.h"
#include "kernels/gemm_reference.h"
#include "base/error.h"
#include "tests/gemm_test_data.h"

namespace sqsim::kernels {
namespace {

using namespace gemm_test;

bool has_vnni() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}
bool has_avx512bw() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw;
}

struct Case {
  long m, k, n, a_group, b_group;
  int bits;
  Codes a_codes, b_codes;
  Scales a_scales, b_scales;
  bool bias;
};

using GemmFn = void (*)(const Int8Matrix&, const Int8Matrix&, long, int32_t*);

void check_accumulators(const Case& c, GemmFn fn, uint32_t seed) {
  const Int8Matrix a = make(c.m, c.k, c.a_group, c.bits, c.a_codes, c.a_scales, seed);
  const Int8Matrix b = make(c.n, c.k, c.b_group, c.bits, c.b_codes, c.b_scales, seed + 1);
  const long g = validate_s8s8(a, b, "test");
  const size_t count = static_cast<size_t>(c.m) * c.n * (c.k / g);
  std::vector<int32_t> ref(count, 1), got(count, 2);
  gemm_s8s8s32_reference(a, b, g, ref.data());
  fn(a, b, g, got.data());
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(got[i], ref[i]) << "acc " << i << " M=" << c.m << " K=" << c.k << " N=" << c.n << " g=" << g;
  }
}

void check_linear(const Case& c, uint32_t seed) {
  const Int8Matrix a = make(c.m, c.k, c.a_group, c.bits, c.a_codes, c.a_scales, seed);
  const Int8Matrix b = make(c.n, c.k, c.b_group, c.bits, c.b_codes, c.b_scales, seed + 1);
  std::vector<float> bias(c.n);
  std::mt19937 rng(seed + 2);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (float& v : bias) v = nd(rng);
  const float* bp = c.bias ? bias.data() : nullptr;
  const MatrixF ref = linear_s8s8_reference(a, b, bp);
  const MatrixF got = linear_s8s8(a, b, bp, KernelPath::kAvx512Vnni);
  ASSERT_EQ(got.rows(), ref.rows());
  ASSERT_EQ(got.cols(), ref.cols());
  ASSERT_EQ(0, std::memcmp(got.data(), ref.data(), sizeof(float) * ref.size()))
      << "M=" << c.m << " K=" << c.k << " N=" << c.n;
  for (long i = 0; i < ref.size(); ++i) ASSERT_EQ(got.data()[i], ref.data()[i]) << "y " << i;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const Codes R = Codes::kRandom;
  const Scales T = Scales::kPerTensor, W = Scales::kPerRow, G = Scales::kPerGroup;
  // Shapes: M=1, K not a multiple of 64 (or of 4 per group), odd N, several groupings.
  for (long m : {1L, 3L, 4L, 5L, 17L, 33L, 70L}) {
    for (long n : {1L, 7L, 16L, 17L, 33L, 65L, 130L}) {
      out.push_back({m, 64, n, 64, 64, 8, R, R, W, W, m % 2 == 0});
      out.push_back({m, 72, n, 72, 72, 8, R, R, T, W, true});
      out.push_back({m, 100, n, 100, 20, 8, R, R, W, G, false});
      out.push_back({m, 200, n, 200, 40, 8, R, R, T, G, true});
    }
  }
  for (long gs : {32L, 64L, 128L}) {
    out.push_back({9, 256, 31, 256, gs, 8, R, R, W, G, true});
    out.push_back({1, 384, 19, gs, 384, 8, R, R, G, W, false});  // activation groups finer
    out.push_back({6, 256, 40, gs, gs, 4, R, R, G, G, true});    // 4-bit codes in int8 storage
  }
  out.push_back({5, 72, 9, 72, 18, 8, R, R, W, G, true});  // groups of 18: tail inside every group
  out.push_back({2, 6, 3, 6, 2, 8, R, R, W, G, true});     // tiny groups of 2
  out.push_back({3, 1, 5, 1, 1, 8, R, R, W, W, false});    // K = 1
  out.push_back({4, 576, 1536, 576, 576, 8, R, R, W, W, true});
  // Extreme codes everywhere (the largest sums the overflow check allows here).
  for (Codes ca : {Codes::kMin, Codes::kMax, Codes::kAlternating}) {
    for (Codes cb : {Codes::kMin, Codes::kMax, Codes::kAlternating}) {
      out.push_back({5, 1000, 21, 1000, 1000, 8, ca, cb, W, W, true});
      out.push_back({2, 131, 3, 131, 131, 8, ca, cb, T, T, false});
      out.push_back({3, 96, 17, 96, 32, 4, ca, cb, W, G, true});
    }
  }
  out.push_back({2, 131071, 3, 131071, 131071, 8, Codes::kMin, Codes::kMin, T, T, false});  // acc = 2^31 - 128... fits
  return out;
}

TEST(GemmAvx512Vnni, AccumulatorsEqualReference) {
  if (!has_vnni()) GTEST_SKIP() << "CPU lacks avx512vnni";
  uint32_t seed = 100;
  for (const Case& c : cases()) check_accumulators(c, gemm_s8s8s32_avx512vnni, seed += 7);
}

TEST(GemmAvx512Vnni, FloatOutputsEqualReferenceBitForBit) {
  if (!has_vnni()) GTEST_SKIP() << "CPU lacks avx512vnni";
  uint32_t seed = 300;
  for (const Case& c : cases()) check_linear(c, seed += 7);
}

TEST(GemmAvx512Vnni, RandomShapes) {
  if (!has_vnni()) GTEST_SKIP() << "CPU lacks avx512vnni";
  std::mt19937 rng(42);
  std::uniform_int_distribution<long> dm(1, 80), dn(1, 150), dk(1, 300);
  for (int t = 0; t < 60; ++t) {
    const long k = dk(rng);
    std::vector<long> divisors;
    for (long d = 1; d <= k; ++d) {
      if (k % d == 0) divisors.push_back(d);
    }
    const long gs = divisors[rng() % divisors.size()];
    const Case c{dm(rng), k, dn(rng), k, gs, (t % 3 == 0) ? 4 : 8, Codes::kRandom, Codes::kRandom,
                 Scales::kPerRow, Scales::kPerGroup, t % 2 == 0};
    check_accumulators(c, gemm_s8s8s32_avx512vnni, 1000 + t);
    check_linear(c, 2000 + t);
  }
}

TEST(GemmAvx512Vnni, PrepackedWeightsEqualReference) {
  if (!has_vnni()) GTEST_SKIP() << "CPU lacks avx512vnni";
  for (long k : {72L, 100L, 200L, 576L}) {
    for (long gs : {k, k / 2, k / 4}) {
      const Int8Matrix a = make(11, k, k, 8, Codes::kRandom, Scales::kPerRow, 7);
      const Int8Matrix b = make(23, k, gs, 8, Codes::kRandom, Scales::kPerGroup, 8);
      const long g = validate_s8s8(a, b, "test");
      const Int8PackedWeights packed = pack_weights_avx512vnni(b, g);
      std::vector<int32_t> ref(11 * 23 * (k / g)), got(ref.size(), 3);
      gemm_s8s8s32_reference(a, b, g, ref.data());
      gemm_s8s8s32_avx512vnni(a, packed, got.data());
      ASSERT_EQ(got, ref) << "K=" << k << " gs=" << gs;
      gemm_s8s8s32_avx512vnni(make(11, k, k, 8, Codes::kMin, Scales::kPerRow, 9), packed, got.data());
      gemm_s8s8s32_reference(make(11, k, k, 8, Codes::kMin, Scales::kPerRow, 9), b, g, ref.data());
      ASSERT_EQ(got, ref) << "reused packing, K=" << k << " gs=" << gs;
    }
  }
  const Int8PackedWeights packed = pack_weights_avx512vnni(make(3, 64, 64, 8, Codes::kRandom, Scales::kPerRow, 1), 64);
  std::vector<int32_t> acc(2 * 3);
  EXPECT_THROW(gemm_s8s8s32_avx512vnni(make(2, 32, 32, 8, Codes::kRandom, Scales::kPerRow, 2), packed, acc.data()),
               Error);
}

TEST(GemmAvx512Vnni, RefusesExactlyLikeReference) {
  if (!has_vnni()) GTEST_SKIP() << "CPU lacks avx512vnni";
  const Int8Matrix a = make(2, 64, 64, 8, Codes::kRandom, Scales::kPerRow, 1);
  const Int8Matrix b = make(3, 32, 32, 8, Codes::kRandom, Scales::kPerRow, 2);
  EXPECT_THROW(linear_s8s8(a, b, nullptr, KernelPath::kAvx512Vnni), Error);
  const Int8Matrix big_a = make(1, 131072, 131072, 8, Codes::kRandom, Scales::kPerTensor, 3);
  const Int8Matrix big_b = make(1, 131072, 131072, 8, Codes::kRandom, Scales::kPerTensor, 4);
  std::string ref_msg, vnni_msg;
  try { linear_s8s8(big_a, big_b, nullptr, KernelPath::kReference); } catch (const Error& e) { ref_msg = e.what(); }
  try { linear_s8s8(big_a, big_b, nullptr, KernelPath::kAvx512Vnni); } catch (const Error& e) { vnni_msg = e.what(); }
  EXPECT_FALSE(ref_msg.empty());
  EXPECT_EQ(ref_msg, vnni_msg);
}

TEST(GemmAvx512Vnni, AutoPathEqualsReference) {
  // Runs on every CPU: kAuto picks VNNI where available, else the reference.
  const Int8Matrix a = make(13, 200, 200, 8, Codes::kRandom, Scales::kPerRow, 5);
  const Int8Matrix b = make(37, 200, 40, 8, Codes::kRandom, Scales::kPerGroup, 6);
  std::vector<float> bias(37, 0.25f);
  const MatrixF ref = linear_s8s8(a, b, bias.data(), KernelPath::kReference);
  const MatrixF got = linear_s8s8(a, b, bias.data(), KernelPath::kAuto);
  ASSERT_EQ(got.size(), ref.size());
  EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), sizeof(float) * ref.size()));
  // auto prefers AMX where the tiles are usable (tests/gemm_amx_test.cpp checks that).
  if (has_vnni() && !amx_state().granted && default_kernel_path() == KernelPath::kAuto) {
    EXPECT_EQ(resolve_kernel_path(KernelPath::kAuto), KernelPath::kAvx512Vnni);
  }
}

TEST(GemmAvx512Vnni, W4A8EqualsReferenceBitForBit) {
  if (!has_vnni()) GTEST_SKIP() << "CPU lacks avx512vnni";
  uint32_t seed = 700;
  for (bool is_signed : {false, true}) {
    for (int extreme : {0, -1, 1}) {
      const std::vector<std::array<long, 4>> shapes = {  // M, K, N, weight group size
          {1, 64, 7, 32}, {5, 100, 33, 20}, {17, 256, 40, 128}, {3, 200, 1, 200}, {9, 72, 18, 18}};
      for (const auto& shape : shapes) {
        const long m = shape[0], k = shape[1], n = shape[2], gs = shape[3];
        seed += 5;
        const Int8Matrix a = make(m, k, k, 8, extreme ? Codes::kMin : Codes::kRandom, Scales::kPerRow, seed);
        const Int4Matrix b = make_int4(n, k, gs, is_signed, 4, extreme, seed + 1);
        const long g = validate_s8s4(a, b, "test");
        std::vector<int32_t> ref(static_cast<size_t>(m) * n * (k / g)), got(ref.size(), 9);
        gemm_s8s4s32_reference(a, b, g, ref.data());
        gemm_s8s4s32_avx512vnni(a, b, g, got.data());
        ASSERT_EQ(got, ref) << "K=" << k << " gs=" << gs << " signed=" << is_signed;
        std::vector<float> bias(n, -1.5f);
        for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
          const MatrixF yr = linear_s8s4_reference(a, b, bp);
          const MatrixF yv = linear_s8s4(a, b, bp, KernelPath::kAvx512Vnni);
          ASSERT_EQ(yv.size(), yr.size());
          ASSERT_EQ(0, std::memcmp(yv.data(), yr.data(), sizeof(float) * yr.size())) << "K=" << k;
          const MatrixF ya = linear_s8s4(a, b, bp, KernelPath::kAuto);
          ASSERT_EQ(0, std::memcmp(ya.data(), yr.data(), sizeof(float) * yr.size())) << "auto, K=" << k;
        }
      }
    }
  }
}

TEST(GemmAvx512Vnni, W4A16EqualsReferenceBitForBit) {
  if (!has_vnni()) GTEST_SKIP() << "CPU lacks avx512vnni";
  uint32_t seed = 900;
  const std::vector<std::array<long, 4>> shapes = {  // M, K, N, weight group size
      {1, 64, 7, 32}, {5, 100, 33, 20}, {17, 256, 40, 128}, {3, 200, 1, 200}, {9, 72, 18, 18},
      {2, 48, 5, 16}, {4, 30, 3, 2}, {33, 576, 65, 64}};
  for (bool is_signed : {false, true}) {
    for (int extreme : {0, -1, 1}) {
      for (const auto& shape : shapes) {
        const long m = shape[0], k = shape[1], n = shape[2], gs = shape[3];
        seed += 5;
        std::mt19937 rng(seed);
        std::normal_distribution<float> nd(0.0f, 2.0f);
        MatrixF x(m, k);
        for (long i = 0; i < x.size(); ++i) x.data()[i] = (i % 11 == 0) ? -0.0f : nd(rng) * (i % 7 == 0 ? 1e3f : 1.0f);
        const Int4Matrix b = make_int4(n, k, gs, is_signed, 4, extreme, seed + 1);
        std::vector<float> bias(n);
        for (float& v : bias) v = nd(rng);
        for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
          const MatrixF yr = linear_f32s4_reference(x, b, bp);
          const MatrixF yv = linear_f32s4(x, b, bp, KernelPath::kAvx512Vnni);
          const MatrixF ya = linear_f32s4(x, b, bp, KernelPath::kAuto);
          ASSERT_EQ(yv.size(), yr.size());
          ASSERT_EQ(0, std::memcmp(yv.data(), yr.data(), sizeof(float) * yr.size()))
              << "M=" << m << " K=" << k << " N=" << n << " gs=" << gs;
          ASSERT_EQ(0, std::memcmp(ya.data(), yr.data(), sizeof(float) * yr.size())) << "auto";
        }
      }
    }
  }
  const MatrixF x(2, 10);
  EXPECT_THROW(linear_f32s4(x, make_int4(3, 12, 12, false, 4, 0, 1), nullptr, KernelPath::kAvx512Vnni), Error);
}

// The emulated-vpdpbusd build of the same kernel: runs wherever AVX-512BW does.
TEST(GemmAvx512VnniEmulated, AccumulatorsEqualReference) {
  if (!has_avx512bw()) GTEST_SKIP() << "CPU lacks avx512bw";
  uint32_t seed = 500;
  for (const Case& c : cases()) check_accumulators(c, gemm_s8s8s32_avx512_emulated_vnni, seed += 7);
  std::mt19937 rng(43);
  std::uniform_int_distribution<long> dm(1, 80), dn(1, 150), dk(1, 300);
  for (int t = 0; t < 60; ++t) {
    const long k = dk(rng);
    std::vector<long> divisors;
    for (long d = 1; d <= k; ++d) {
      if (k % d == 0) divisors.push_back(d);
    }
    const Case c{dm(rng), k, dn(rng), k, divisors[rng() % divisors.size()], (t % 3 == 0) ? 4 : 8,
                 Codes::kRandom, Codes::kRandom, Scales::kPerRow, Scales::kPerGroup, false};
    check_accumulators(c, gemm_s8s8s32_avx512_emulated_vnni, 3000 + t);
  }
}

// The fused-epilogue kernel with the emulated vpdpbusd: float bits equal the reference's.
TEST(GemmAvx512VnniEmulated, FloatOutputsEqualReferenceBitForBit) {
  if (!has_avx512bw()) GTEST_SKIP() << "CPU lacks avx512bw";
  uint32_t seed = 800;
  for (const Case& c : cases()) {
    seed += 7;
    const Int8Matrix a = make(c.m, c.k, c.a_group, c.bits, c.a_codes, c.a_scales, seed);
    const Int8Matrix b = make(c.n, c.k, c.b_group, c.bits, c.b_codes, c.b_scales, seed + 1);
    std::vector<float> bias(c.n, -0.75f);
    const float* bp = c.bias ? bias.data() : nullptr;
    const MatrixF ref = linear_s8s8_reference(a, b, bp);
    const MatrixF got = linear_s8s8_avx512_emulated_vnni(a, b, bp);
    ASSERT_EQ(got.size(), ref.size());
    ASSERT_EQ(0, std::memcmp(got.data(), ref.data(), sizeof(float) * ref.size()))
        << "M=" << c.m << " K=" << c.k << " N=" << c.n;
  }
}

}  // namespace
}  // namespace sqsim::kernels
