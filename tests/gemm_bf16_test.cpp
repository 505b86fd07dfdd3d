// bfloat16 activations (kernels/bf16.h): the float32 -> bf16 rounding is round
// to nearest even on every finite value (subnormals included), checked against
// an independent oracle; the AVX512_BF16 conversion returns the scalar bits;
// and every W4A16 path on bf16 activations returns the bits of
// linear_f32s4_reference on the widened activations (memcmp).
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/x86/bf16_avx512bf16.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/x86/avx512_path.h"
#include "kernels/x86/avx2_path.h"
#include "kernels/gemm_reference.h"
#include "tests/gemm_test_data.h"

namespace sqsim::kernels {
namespace {

using namespace gemm_test;

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The oracle, written independently of bf16_round: b is the correctly rounded
// bf16 of finite f when widen(b) is one of the two bf16 values around f
// (truncation t, and t one ulp further from zero), the nearer one in double
// arithmetic (exact here), the one with an even last bit on a tie. Past the
// largest finite bf16, the value that would be t + 1 ulp is inf, as in IEEE.
bool is_rne(float f, uint16_t b) {
  const uint16_t t = static_cast<uint16_t>(bits_of(f) >> 16);
  const uint16_t up = static_cast<uint16_t>(t + 1);  // one ulp away from zero (0x7F7F + 1 = inf)
  const double lo = bf16_widen(t);
  const double hi = (up & 0x7FFF) == 0x7F80 ? std::copysign(std::ldexp(1.0, 128), f) : bf16_widen(up);
  const double dl = std::fabs(f - lo), dh = std::fabs(hi - f);
  const uint16_t want = dl < dh ? t : dh < dl ? up : ((t & 1) ? up : t);
  return b == want;
}

TEST(Bf16Conversion, ScalarValues) {
  struct Case {
    uint32_t in;
    uint16_t out;
  };
  const std::vector<Case> cases = {
      {0x3F800000u, 0x3F80},  // 1
      {0x3F808000u, 0x3F80},  // 1 + 2^-8: a tie, to the even 1
      {0x3F818000u, 0x3F82},  // a tie, to the even 0x3F82
      {0x3F808001u, 0x3F81},  // just above the tie
      {0x3F807FFFu, 0x3F80},  // just below it
      {0x80000000u, 0x8000},  // -0
      {0x7F800000u, 0x7F80},  // inf
      {0xFF800000u, 0xFF80},  // -inf
      {0x7F7FFFFFu, 0x7F80},  // the largest float rounds to inf
      {0x7F7F7FFFu, 0x7F7F},  // the largest bf16 below it stays finite
      {0x7FC00000u, 0x7FC0},  // quiet NaN
      {0x7F800001u, 0x7FC0},  // signalling NaN with its payload in the low bits: quiet NaN
      {0xFFA12345u, 0xFFE1},  // sign and top payload kept, quiet bit set
      {0x00000001u, 0x0000},  // smallest subnormal: rounds to +0
      {0x80000001u, 0x8000},
      {0x00008000u, 0x0000},  // subnormal tie, to the even 0
      {0x00018000u, 0x0002},  // subnormal tie, to the even 2
      {0x00010001u, 0x0001},  // a subnormal bf16
      {0x007FFFFFu, 0x0080},  // largest subnormal rounds up to the smallest normal
  };
  for (const Case& c : cases) {
    EXPECT_EQ(bf16_round(from_bits(c.in)), c.out) << std::hex << c.in;
    const float f = from_bits(c.in);
    if (std::isfinite(f)) {
      EXPECT_TRUE(is_rne(f, c.out)) << std::hex << c.in;
    }
  }
  // Widening is exact: every bf16 pattern comes back unchanged.
  for (uint32_t b = 0; b < 0x10000u; ++b) {
    const uint16_t h = static_cast<uint16_t>(b);
    const float f = bf16_widen(h);
    EXPECT_EQ(bits_of(f), b << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(bf16_round(f), h) << std::hex << b;
    }
  }
}

// The oracle can fail: truncation and ties-away-from-zero, the usual wrong
// roundings, are rejected on some inputs, so the sweep below has teeth.
TEST(Bf16Conversion, OracleRejectsOtherRoundings) {
  const float tie = from_bits(0x3F808000u), above = from_bits(0x3F80C000u);
  EXPECT_FALSE(is_rne(tie, 0x3F81));    // ties away from zero
  EXPECT_FALSE(is_rne(above, 0x3F80));  // truncation
  EXPECT_TRUE(is_rne(tie, 0x3F80));
  EXPECT_TRUE(is_rne(above, 0x3F81));
}

TEST(Bf16Conversion, ScalarIsRoundToNearestEven) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> any;
  long checked = 0;
  for (int i = 0; i < 2000000; ++i) {
    uint32_t u = any(rng);
    if (i % 4 == 1) u &= 0x807FFFFFu;              // subnormals
    if (i % 4 == 2) u = (u & 0xFFFF0000u) | 0x8000u;  // ties
    const float f = from_bits(u);
    if (!std::isfinite(f)) continue;
    ASSERT_TRUE(is_rne(f, bf16_round(f))) << std::hex << u << " -> " << bf16_round(f);
    ++checked;
  }
  EXPECT_GT(checked, 1900000);
}

// vcvtneps2bf16 flushes subnormal inputs to zero; the AVX512_BF16 path patches
// those lanes, so it must equal bf16_round on every subnormal, every NaN / inf
// pattern, both ends of the finite range and many random patterns, at every
// tail length.
TEST(Bf16Conversion, Avx512Bf16EqualsScalar) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512bf16)) GTEST_SKIP() << "no AVX512_BF16";
  auto check = [](const std::vector<uint32_t>& in, const char* what) {
    std::vector<float> x(in.size());
    if (!in.empty()) std::memcpy(x.data(), in.data(), 4 * in.size());  // memcpy of null is UB even for 0 bytes
    std::vector<uint16_t> a(in.size()), b(in.size());
    to_bf16_scalar(x.data(), static_cast<long>(x.size()), a.data());
    to_bf16_avx512bf16(x.data(), static_cast<long>(x.size()), b.data());
    long bad = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      if (a[i] != b[i] && ++bad <= 5) ADD_FAILURE() << what << ": " << std::hex << in[i] << " scalar " << a[i] << " avx512bf16 " << b[i];
    }
    EXPECT_EQ(bad, 0) << what;
  };
  std::vector<uint32_t> in;
  for (uint32_t sign : {0u, 0x80000000u}) {
    in.clear();
    for (uint32_t m = 0; m < (1u << 23); ++m) in.push_back(sign | m);  // zero and every subnormal
    check(in, "subnormals");
    in.clear();
    for (uint32_t m = 0; m < (1u << 23); ++m) in.push_back(sign | 0x7F800000u | m);  // inf and every NaN
    check(in, "inf/NaN");
    in.clear();
    for (uint32_t m = 0; m < (1u << 20); ++m) {
      in.push_back(sign | 0x00800000u | m);  // smallest normals
      in.push_back(sign | (0x7F7FFFFFu - m));  // largest finites
    }
    check(in, "range ends");
  }
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> any;
  in.clear();
  for (int i = 0; i < (1 << 22); ++i) in.push_back(any(rng));
  check(in, "random");
  // Every tail length, with a subnormal and a NaN in each.
  for (size_t n = 0; n <= 40; ++n) {
    std::vector<uint32_t> t;
    for (size_t i = 0; i < n; ++i) t.push_back(i % 3 == 0 ? 0x00418000u : i % 5 == 0 ? 0xFF800001u : any(rng));
    check(t, "tails");
  }
}

TEST(Bf16Conversion, MatrixConversionAndWidening) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  MatrixF x(7, 37);
  for (long i = 0; i < x.size(); ++i) x.data()[i] = i % 9 == 0 ? nd(rng) * 1e-40f : nd(rng);
  const Bf16Matrix b = to_bf16(x);  // the dispatched conversion
  ASSERT_EQ(b.rows, 7);
  ASSERT_EQ(b.cols, 37);
  const MatrixF w = widen_bf16(b);
  for (long i = 0; i < x.size(); ++i) {
    EXPECT_EQ(b.bits[i], bf16_round(x.data()[i])) << i;
    EXPECT_EQ(bits_of(w.data()[i]), static_cast<uint32_t>(b.bits[i]) << 16) << i;
  }
}

// ---------------------------------------------------------------------------
// W4A16 on bf16 activations.

struct Path {
  std::string name;
  std::function<MatrixF(const Bf16Matrix&, const Int4Matrix&, const float*)> run;
};

std::vector<Path> paths() {
  std::vector<Path> p;
  const CpuFeatures& f = cpu_features();
  for (KernelPath kp : available_kernel_paths()) {
    p.push_back({"dispatch " + kernel_path_name(kp), [kp](const Bf16Matrix& x, const Int4Matrix& b, const float* bias) {
                   return linear_bf16s4(x, b, bias, kp);
                 }});
    p.push_back({"packed " + kernel_path_name(kp), [kp](const Bf16Matrix& x, const Int4Matrix& b, const float* bias) {
                   return linear_bf16s4(x, pack_s4_weights(b, kp), bias);
                 }});
  }
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) {
    for (W4A16Kernel k : {W4A16Kernel::kRows, W4A16Kernel::kPanel}) {
      p.push_back({std::string("avx512 ") + (k == W4A16Kernel::kRows ? "rows" : "panel"),
                   [k](const Bf16Matrix& x, const Int4Matrix& b, const float* bias) {
                     return linear_bf16s4_avx512(x, b, bias, k);
                   }});
    }
  }
  return p;
}

// bf16 activations: normal values, signed zeros, large, tiny and subnormal
// magnitudes, rows of -0.0 (kind 1).
Bf16Matrix make_x(long m, long k, int kind, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  MatrixF x(m, k);
  for (long r = 0; r < m; ++r) {
    for (long c = 0; c < k; ++c) {
      const long i = r * k + c;
      float v = nd(rng);
      if (i % 11 == 0) v = -0.0f;
      if (kind == 1 && i % 7 == 0) v *= 1e3f;
      if (kind == 1 && i % 13 == 0) v *= 1e30f;
      if (kind == 1 && i % 17 == 0) v *= 1e-39f;  // subnormal
      if (kind == 1 && r % 5 == 4) v = -0.0f;
      x(r, c) = v;
    }
  }
  return to_bf16(x);
}

void check(const std::vector<Path>& ps, long m, long k, long n, long gs, uint32_t& seed) {
  for (bool is_signed : {false, true}) {
    seed += 7;
    const Int4Matrix b = make_int4(n, k, gs, is_signed, 4, 0, seed);
    const Bf16Matrix x = make_x(m, k, is_signed ? 1 : 0, seed + 1);
    const MatrixF xf = widen_bf16(x);
    std::mt19937 rng(seed + 2);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> bias(n);
    for (long i = 0; i < n; ++i) bias[i] = i % 5 == 0 ? -0.0f : nd(rng);
    for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
      const MatrixF ref = linear_f32s4_reference(xf, b, bp);  // the definition
      for (int threads : {1, 2}) {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
        for (const Path& p : ps) {
          EXPECT_TRUE(same_bits(p.run(x, b, bp), ref))
              << p.name << ": M=" << m << " K=" << k << " N=" << n << " G=" << gs << " signed=" << is_signed
              << " bias=" << (bp != nullptr) << " threads=" << threads;
        }
      }
    }
  }
}

TEST(Bf16GemmW4A16, EveryPathEqualsReferenceOnWidenedActivations) {
  const std::vector<Path> ps = paths();
  uint32_t seed = 4321;
  for (long m : {1L, 2L, 4L, 5L, 16L, 33L, 130L}) {
    for (long k : {32L, 64L * 3, 576L, 1536L}) {
      for (long n : {17L, 576L}) {
        for (long gs : {32L, 64L, 128L}) {
          if (k % gs != 0) continue;
          check(ps, m, k, n, gs, seed);
        }
      }
    }
  }
}

// Group sizes off the vector decode (not multiples of 16, or 16) and K not a
// multiple of 16 take the fallbacks; still the same bits.
TEST(Bf16GemmW4A16, OddGroupSizes) {
  const std::vector<Path> ps = paths();
  uint32_t seed = 99;
  for (long m : {1L, 4L, 7L, 20L}) {
    check(ps, m, 192, 33, 24, seed);
    check(ps, m, 96, 18, 16, seed);
    check(ps, m, 30, 5, 2, seed);
  }
}

// The comparison has teeth: one activation one bf16 ulp off changes the output
// bits, so a kernel that widened or rounded differently would be caught.
TEST(Bf16GemmW4A16, OneUlpOfOneActivationIsDetected) {
  const Int4Matrix b = make_int4(16, 64, 32, false, 4, 0, 8);
  Bf16Matrix x = make_x(2, 64, 0, 9);
  const MatrixF ref = linear_f32s4_reference(widen_bf16(x), b, nullptr);
  x.bits[5] = static_cast<uint16_t>(x.bits[5] + 1);
  for (const Path& p : paths()) EXPECT_FALSE(same_bits(p.run(x, b, nullptr), ref)) << p.name;
}

}  // namespace
}  // namespace sqsim::kernels
