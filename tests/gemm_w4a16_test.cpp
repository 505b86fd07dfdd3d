// W4A16 (float activations x int4 weights): every compiled kernel (the row
// kernel for decode, the panel kernel for many rows, each forced regardless of
// M, and the automatic choice), on every SIMD path this CPU runs, returns the
// bits of linear_f32s4_reference (memcmp of the float outputs), across shapes,
// group sizes, code kinds, zero points, bias and awkward input values.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/x86/avx512_path.h"
#include "kernels/x86/avx2_path.h"
#include "kernels/gemm_reference.h"
#include "kernels/sgemm.h"
#include "tests/gemm_test_data.h"

namespace sqsim::kernels {
namespace {

using namespace gemm_test;

struct Path {
  std::string name;
  std::function<MatrixF(const MatrixF&, const Int4Matrix&, const float*)> run;
};

// Every W4A16 entry point this CPU can run, besides the reference.
std::vector<Path> paths() {
  std::vector<Path> p;
  const CpuFeatures& f = cpu_features();
  for (KernelPath kp : available_kernel_paths()) {
    if (kp == KernelPath::kReference) continue;
    p.push_back({"dispatch " + kernel_path_name(kp), [kp](const MatrixF& x, const Int4Matrix& b, const float* bias) {
                   return linear_f32s4(x, b, bias, kp);
                 }});
    p.push_back({"packed " + kernel_path_name(kp), [kp](const MatrixF& x, const Int4Matrix& b, const float* bias) {
                   return linear_f32s4(x, pack_s4_weights(b, kp), bias);
                 }});
  }
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) {
    for (W4A16Kernel k : {W4A16Kernel::kRows, W4A16Kernel::kPanel}) {
      p.push_back({std::string("avx512 ") + (k == W4A16Kernel::kRows ? "rows" : "panel"),
                   [k](const MatrixF& x, const Int4Matrix& b, const float* bias) {
                     return linear_f32s4_avx512(x, b, bias, k);
                   }});
    }
  }
  if (f.avx2 && f.fma) {
    for (W4A16Kernel k : {W4A16Kernel::kRows, W4A16Kernel::kPanel}) {
      p.push_back({std::string("avx2 ") + (k == W4A16Kernel::kRows ? "rows" : "panel"),
                   [k](const MatrixF& x, const Int4Matrix& b, const float* bias) {
                     return linear_f32s4_avx2(x, b, bias, k);
                   }});
    }
  }
  return p;
}

// Activations: normal values with signed zeros, whole rows of -0.0, huge and
// tiny (subnormal) magnitudes. `pad` trailing columns are 0, like the padding
// of a ragged last group (sim/models/quantized_linear_layer.cpp).
MatrixF make_x(long m, long k, long pad, int kind, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  MatrixF x(m, k);
  for (long r = 0; r < m; ++r) {
    for (long c = 0; c < k; ++c) {
      const long i = r * k + c;
      float v = nd(rng);
      if (i % 11 == 0) v = -0.0f;
      if (kind >= 1 && i % 7 == 0) v *= 1e3f;
      if (kind >= 1 && i % 13 == 0) v *= 1e30f;
      if (kind >= 1 && i % 17 == 0) v *= 1e-41f;  // subnormal
      if (kind >= 1 && r % 5 == 4) v = -0.0f;     // a row of -0.0 only
      if (kind == 2 && i % 97 == 0) v = std::numeric_limits<float>::max();
      if (c >= k - pad) v = 0.0f;
      x(r, c) = v;
    }
  }
  return x;
}

// The last `pad` codes of every row set to the zero point of the last group:
// w = 0 there, as pad_columns makes them.
void zero_tail(Int4Matrix& b, long pad) {
  const long groups = b.groups();
  for (long r = 0; r < b.rows; ++r) {
    const int zp = b.zero_point[r * groups + groups - 1];
    for (long c = b.cols - pad; c < b.cols; ++c) {
      uint8_t& byte = b.packed[r * (b.cols / 2) + c / 2];
      const uint8_t nibble = static_cast<uint8_t>(zp & 0x0F);
      byte = (c & 1) ? static_cast<uint8_t>((byte & 0x0F) | (nibble << 4))
                     : static_cast<uint8_t>((byte & 0xF0) | nibble);
    }
  }
}

struct Shape {
  long m, k, n, gs, pad;
};

// Runs every path on one shape for code kinds {random, lowest codes with zp at
// the top, highest codes with zp 0} x {unsigned, signed} x {no bias, bias};
// `all` false samples two of the six code kinds (large shapes: the scalar
// reference is slow).
void check(const std::vector<Path>& ps, const Shape& s, bool all, uint32_t& seed) {
  int kinds = 0;
  for (bool is_signed : {false, true}) {
    for (int extreme : {0, -1, 1}) {
      seed += 7;
      ++kinds;
      if (!all && (seed / 7) % 3 != 0) continue;
      Int4Matrix b = make_int4(s.n, s.k, s.gs, is_signed, 4, extreme, seed);
      if (s.pad) zero_tail(b, s.pad);
      const MatrixF x = make_x(s.m, s.k, s.pad, kinds % 3, seed + 1);
      std::mt19937 rng(seed + 2);
      std::normal_distribution<float> nd(0.0f, 1.0f);
      std::vector<float> bias(s.n);
      for (long i = 0; i < s.n; ++i) bias[i] = i % 5 == 0 ? -0.0f : nd(rng);
      for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
        const MatrixF ref = linear_f32s4_reference(x, b, bp);
        for (const Path& p : ps) {
          EXPECT_TRUE(same_bits(p.run(x, b, bp), ref))
              << p.name << ": M=" << s.m << " K=" << s.k << " (pad " << s.pad << ") N=" << s.n << " G=" << s.gs
              << " signed=" << is_signed << " extreme=" << extreme << " bias=" << (bp != nullptr);
        }
      }
    }
  }
}

TEST(GemmW4A16, EveryKernelEqualsReferenceBitForBit) {
  const std::vector<Path> ps = paths();
  if (ps.empty()) GTEST_SKIP() << "no SIMD path on this CPU";
  uint32_t seed = 1234;
  // K as the kernels see it: a model's K = 576 with G = 128 / 256 arrives padded
  // to 640 / 768 with zero tails (the ragged last group); G = K is per channel.
  struct KG {
    long k, gs, pad;
  };
  const std::vector<KG> kgs = {{64, 64, 0},     {64, 16, 0},    {192, 64, 0},  {192, 192, 0},  {576, 64, 0},
                               {576, 576, 0},   {640, 128, 64}, {768, 256, 192}, {1536, 64, 0}, {1536, 128, 0},
                               {1536, 256, 0},  {1536, 1536, 0}};
  for (long m : {1L, 3L, 8L, 17L, 64L, 300L}) {
    for (const KG& kg : kgs) {
      for (long n : {1L, 15L, 16L, 17L, 576L}) {
        const double macs = static_cast<double>(m) * kg.k * n;
        if (macs > 3e7 && !(n == 576 && (kg.gs == 128 || kg.gs == 256) && m == 64)) {
          // The largest products only on a few shapes (the reference runs at ~1 GMAC/s).
          if (!(m == 300 && n == 17) && !(m == 17 && n == 576)) continue;
        }
        check(ps, {m, kg.k, n, kg.gs, kg.pad}, macs <= 2e6, seed);
      }
    }
  }
}

TEST(GemmW4A16, OddGroupSizesAndShapes) {
  const std::vector<Path> ps = paths();
  if (ps.empty()) GTEST_SKIP() << "no SIMD path on this CPU";
  uint32_t seed = 77;
  // Group sizes that are not multiples of 16 (short groups leave lanes at +0.0),
  // K not a multiple of 16, N around the 16-channel panel, M around the row blocks.
  const std::vector<Shape> shapes = {{1, 2, 1, 2, 0},     {5, 30, 3, 2, 0},     {9, 72, 18, 18, 0},
                                     {20, 100, 33, 20, 0}, {33, 200, 31, 200, 0}, {16, 48, 5, 16, 0},
                                     {18, 24, 47, 8, 0},   {7, 36, 16, 36, 0},    {31, 160, 49, 40, 0},
                                     {600, 96, 33, 32, 0}, {513, 64, 20, 64, 0}, {1100, 64, 17, 64, 0}};
  for (const Shape& s : shapes) check(ps, s, true, seed);
}

// Results do not depend on the thread count or tiling: the panel kernels run
// each output's operations in one fixed order (1030 rows: three row blocks).
TEST(GemmW4A16, PanelKernelsAreThreadCountIndependent) {
  const CpuFeatures& f = cpu_features();
  const Int4Matrix b = make_int4(100, 256, 128, false, 4, 0, 5);
  const MatrixF x = make_x(1030, 256, 0, 1, 6);
  const std::vector<float> bias(100, 0.25f);
  const MatrixF ref = linear_f32s4_reference(x, b, bias.data());
  for (int threads : {1, 2, 3}) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) {
      EXPECT_TRUE(same_bits(linear_f32s4_avx512(x, b, bias.data(), W4A16Kernel::kPanel), ref)) << threads << " threads";
    }
    if (f.avx2 && f.fma) {
      EXPECT_TRUE(same_bits(linear_f32s4_avx2(x, b, bias.data(), W4A16Kernel::kPanel), ref)) << threads << " threads";
    }
  }
}

// The definition (docs/quantization.md, "int4 weights"): the weights
// dequantized with one rounding, then the float GEMM's FMA chain and the bias.
// An independent implementation: the AVX-512 float GEMM (kernels/sgemm.h) on
// weights dequantized here, element by element.
TEST(GemmW4A16, EqualsTheFloatGemmOnDequantizedWeights) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "the float GEMM's FMA path needs AVX-512F";
  for (long gs : {16L, 64L, 128L}) {
    const long m = 37, k = 256, n = 45;
    const Int4Matrix b = make_int4(n, k, gs, gs == 64, 4, 0, 11 + uint32_t(gs));
    const MatrixF x = make_x(m, k, 0, 1, 12);
    std::vector<float> bias(n);
    for (long c = 0; c < n; ++c) bias[c] = 0.125f * float(c) - 2.0f;
    MatrixF w(n, k);
    for (long c = 0; c < n; ++c)
      for (long i = 0; i < k; ++i) {
        const long p = c * (k / gs) + i / gs;
        w(c, i) = static_cast<float>(b.code(c, i) - b.zero_point[p]) * b.scale[p];
      }
    MatrixF want(m, n);
    SgemmArgs g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = x.data();
    g.lda = k;
    g.b = w.data();
    g.ldb = k;
    g.c = want.data();
    g.ldc = n;
    g.bias = bias.data();
    sgemm_avx512(g);
    EXPECT_TRUE(same_bits(linear_f32s4_reference(x, b, bias.data()), want)) << "group " << gs;
    EXPECT_TRUE(same_bits(linear_f32s4(x, b, bias.data()), want)) << "group " << gs;
  }
}

}  // namespace
}  // namespace sqsim::kernels
