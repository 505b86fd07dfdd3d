// The vectorized loops of observe_range / quantize / dequantize against the
// straightforward element-by-element loops they replaced (written out here as
// the reference): every output bit must agree, for every granularity,
// symmetric and asymmetric, with signed zeros, tiny and huge values and exact
// .5 ties; NaN/Inf must still be reported at the same row and channel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "base/error.h"
#include "quant/cpu_avx512.h"
#include "quant/quantize.h"
#include "quant/quantize_row.h"
#include "quant/scales.h"
#include "quant/rounding.h"

namespace sqsim {
namespace {

uint32_t bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(bits(a[i]), bits(b[i])) << what << " [" << i << "]: " << a[i] << " vs " << b[i];
  }
}

// The loop observe_range had before it was vectorized.
RangeStats reference_range(const MatrixF& x, const QuantSpec& spec) {
  const long n = spec.num_params(x.rows(), x.cols());
  RangeStats r;
  r.absmax.assign(n, 0.0f);
  r.min.assign(n, std::numeric_limits<float>::infinity());
  r.max.assign(n, -std::numeric_limits<float>::infinity());
  for (long i = 0; i < x.rows(); ++i) {
    for (long j = 0; j < x.cols(); ++j) {
      const float v = x(i, j);
      const long p = spec.param_index(i, j, x.cols());
      r.absmax[p] = std::max(r.absmax[p], std::fabs(v));
      r.min[p] = std::min(r.min[p], v);
      r.max[p] = std::max(r.max[p], v);
    }
  }
  return r;
}

float reference_round(float v, Rounding mode, uint64_t seed, uint64_t index) {
  switch (mode) {
    case Rounding::kHalfEven: return std::nearbyint(v);
    case Rounding::kHalfAwayFromZero: return std::round(v);
    case Rounding::kStochastic: return std::floor(v + stochastic_uniform(seed, index));
  }
  return 0;
}

int reference_clamp(float v, int lo, int hi) {
  if (v < static_cast<float>(lo)) return lo;
  if (v > static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// The loop quantize had before it was vectorized.
std::vector<int16_t> reference_codes(const MatrixF& x, const QuantSpec& spec, const QuantParams& params) {
  std::vector<int16_t> codes(static_cast<size_t>(x.rows()) * x.cols());
  const bool reciprocal = spec.symmetric && spec.scale_rule == ScaleRule::kReciprocal;
  for (long r = 0; r < x.rows(); ++r) {
    for (long c = 0; c < x.cols(); ++c) {
      const float v = x(r, c);
      const long p = spec.param_index(r, c, x.cols());
      const uint64_t index = static_cast<uint64_t>(r) * x.cols() + c;
      const float scaled = reciprocal ? v * params.multiplier[p] : v / params.scale[p];
      const float rounded = reference_round(scaled, spec.rounding, spec.seed, index);
      codes[index] = static_cast<int16_t>(
          spec.symmetric ? reference_clamp(rounded, spec.qmin(), spec.qmax())
                         : reference_clamp(rounded + static_cast<float>(params.zero_point[p]),
                                           spec.qmin(), spec.qmax()));
    }
  }
  return codes;
}

std::vector<float> reference_dequantize(const QuantizedMatrix& q) {
  std::vector<float> out(static_cast<size_t>(q.rows) * q.cols);
  for (long r = 0; r < q.rows; ++r)
    for (long c = 0; c < q.cols; ++c) {
      const long p = q.spec.param_index(r, c, q.cols);
      out[r * q.cols + c] =
          static_cast<float>(q.codes[r * q.cols + c] - q.params.zero_point[p]) * q.params.scale[p];
    }
  return out;
}

// Random values with the awkward cases mixed in.
MatrixF awkward_matrix(long rows, long cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> kind(0, 19);
  std::uniform_int_distribution<int> small_int(-300, 300);
  MatrixF m(rows, cols);
  for (long r = 0; r < rows; ++r) {
    for (long c = 0; c < cols; ++c) {
      float v = normal(rng);
      switch (kind(rng)) {
        case 0: v = 0.0f; break;
        case 1: v = -0.0f; break;
        case 2: v *= 1e-40f; break;  // subnormal
        case 3: v *= 1e-30f; break;
        case 4: v *= 1e30f; break;
        case 5: v = (r + c) % 2 ? 3.0e38f : -3.0e38f; break;
        case 6: v = static_cast<float>(small_int(rng)) + 0.5f; break;  // .5 ties
        case 7: v = static_cast<float>(small_int(rng)); break;
        default: break;
      }
      m(r, c) = v;
    }
  }
  return m;
}

// Rows whose extremes are signed zeros (ReLU-like: min 0 with -0.0 and +0.0
// in either order; all zeros) and rows whose scale is 1 with .5 ties.
MatrixF zero_and_tie_matrix(long rows, long cols, std::mt19937& rng) {
  std::uniform_int_distribution<int> coin(0, 3);
  std::uniform_int_distribution<int> small_int(-120, 120);
  MatrixF m(rows, cols);
  for (long r = 0; r < rows; ++r) {
    for (long c = 0; c < cols; ++c) {
      float v;
      switch (r % 4) {
        case 0: v = coin(rng) == 0 ? (coin(rng) % 2 ? 0.0f : -0.0f) : 1.0f + coin(rng); break;
        case 1: v = coin(rng) == 0 ? (coin(rng) % 2 ? 0.0f : -0.0f) : -1.0f - coin(rng); break;
        case 2: v = coin(rng) % 2 ? 0.0f : -0.0f; break;
        default: v = static_cast<float>(small_int(rng)) + 0.5f; break;
      }
      m(r, c) = v;
    }
    if (r % 4 == 3) m(r, 0) = 127.0f;  // symmetric 8-bit scale exactly 1
  }
  return m;
}

std::vector<QuantSpec> all_specs() {
  std::vector<QuantSpec> specs;
  struct G { Granularity g; int size; };
  const G grans[] = {{Granularity::kPerTensor, 0}, {Granularity::kPerRow, 0},
                     {Granularity::kPerColumn, 0}, {Granularity::kPerGroup, 32},
                     {Granularity::kPerGroup, 64}, {Granularity::kPerGroup, 128}};
  for (const G& g : grans)
    for (bool sym : {true, false})
      for (int b : {8, 4})
        for (Rounding rnd : {Rounding::kHalfEven, Rounding::kHalfAwayFromZero, Rounding::kStochastic})
          for (ScaleRule rule : {ScaleRule::kReference, ScaleRule::kHalfRange, ScaleRule::kReciprocal}) {
            QuantSpec s;
            s.bits = b;
            s.symmetric = sym;
            s.granularity = g.g;
            s.group_size = g.size;
            s.rounding = rnd;
            s.scale_rule = rule;
            s.seed = 1234;
            try {
              s.validate("spec");
            } catch (const Error&) {
              continue;
            }
            specs.push_back(s);
          }
  return specs;
}

TEST(QuantizeLoops, BitIdenticalToElementwiseLoops) {
  std::mt19937 rng(7);
  long checked = 0;
  // 576 = 4.5 groups of 128 and 9 of 64; 200 and 100 leave ragged groups of
  // 32/64; 7 is narrower than any group.
  for (long cols : {576L, 200L, 100L, 64L, 7L}) {
    for (int kind = 0; kind < 2; ++kind) {
      const MatrixF x = kind == 0 ? awkward_matrix(9, cols, rng) : zero_and_tie_matrix(8, cols, rng);
      for (const QuantSpec& spec : all_specs()) {
        try {
          spec.validate_shape(x.rows(), x.cols(), "x");
        } catch (const Error&) {
          continue;
        }
        const std::string what = "cols " + std::to_string(cols) + " kind " + std::to_string(kind) +
                                 " " + granularity_name(spec, TensorRole::kActivation) +
                                 (spec.symmetric ? " sym" : " asym") + " bits " +
                                 std::to_string(spec.bits) + " " + rounding_name(spec.rounding) +
                                 " " + scale_rule_name(spec.scale_rule);
        const RangeStats want = reference_range(x, spec);
        const RangeStats got = observe_range(x, spec, "x");
        expect_same_bits(got.absmax, want.absmax, what + " absmax");
        expect_same_bits(got.min, want.min, what + " min");
        expect_same_bits(got.max, want.max, what + " max");
        const QuantParams params = params_from_range(want, spec);
        const QuantizedMatrix q = quantize(x, spec, params, "x");
        ASSERT_EQ(q.codes, reference_codes(x, spec, params)) << what;
        const MatrixF dq = dequantize(q);
        expect_same_bits(std::vector<float>(dq.data(), dq.data() + dq.size()),
                         reference_dequantize(q), what + " dequantize");
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 500);
}

// quantize_row_nearest's two builds (quant/quantize_row.h) directly, each row
// as quantize hands it over: the same codes and dequantized values, bit for
// bit, and the element-by-element loop's codes. (quantize itself runs only the
// build this CPU picks; this covers the other one too.)
TEST(QuantizeLoops, RowKernelsAgreeBitForBit) {
  if (!cpu_has_avx512_quant_flags()) GTEST_SKIP() << "no AVX-512 on this CPU: only the portable build runs";
  std::mt19937 rng(11);
  long rows_checked = 0;
  for (long cols : {576L, 200L, 100L, 64L, 17L, 7L}) {
    for (int kind = 0; kind < 2; ++kind) {
      const MatrixF x = kind == 0 ? awkward_matrix(9, cols, rng) : zero_and_tie_matrix(8, cols, rng);
      for (const QuantSpec& spec : all_specs()) {
        if (spec.rounding != Rounding::kHalfEven) continue;
        try {
          spec.validate_shape(x.rows(), x.cols(), "x");
        } catch (const Error&) {
          continue;
        }
        const QuantParams params = params_from_range(reference_range(x, spec), spec);
        const std::vector<int16_t> want = reference_codes(x, spec, params);
        for (long r = 0; r < x.rows(); ++r) {
          std::vector<int16_t> codes[2];
          std::vector<float> dq[2];
          for (int build = 0; build < 2; ++build) {
            codes[build].assign(static_cast<size_t>(cols), 0);
            dq[build].assign(static_cast<size_t>(cols), 0.0f);
            const QuantizeRow qr =
                quantize_row_job(x.row(r).data(), cols, r, spec, params, codes[build].data(), dq[build].data());
            if (build == 0) quantize_row_nearest_portable(qr);
            else quantize_row_nearest_avx512(qr);
          }
          const std::string what = "cols " + std::to_string(cols) + " kind " + std::to_string(kind) + " row " +
                                   std::to_string(r) + " " + granularity_name(spec, TensorRole::kActivation) +
                                   (spec.symmetric ? " sym" : " asym") + " bits " + std::to_string(spec.bits) +
                                   " " + scale_rule_name(spec.scale_rule);
          ASSERT_EQ(codes[0], codes[1]) << what;
          ASSERT_EQ(codes[0], std::vector<int16_t>(want.begin() + r * cols, want.begin() + (r + 1) * cols)) << what;
          expect_same_bits(dq[0], dq[1], what + " dequantized");
          ++rows_checked;
        }
      }
    }
  }
  EXPECT_GT(rows_checked, 1000);
}

// coarsen_range gives observe_range's statistics of the coarser granularity
// bit for bit (signed zeros: zero_and_tie_matrix has rows whose extremes are
// -0.0 and +0.0 in either order).
TEST(QuantizeLoops, CoarsenedRangesEqualObservedRanges) {
  std::mt19937 rng(5);
  std::vector<QuantSpec> specs;
  for (auto [g, size] : std::vector<std::pair<Granularity, int>>{{Granularity::kPerTensor, 0},
                                                                 {Granularity::kPerRow, 0},
                                                                 {Granularity::kPerColumn, 0},
                                                                 {Granularity::kPerGroup, 32},
                                                                 {Granularity::kPerGroup, 64},
                                                                 {Granularity::kPerGroup, 128}}) {
    QuantSpec s;
    s.granularity = g;
    s.group_size = size;
    specs.push_back(s);
  }
  long pairs = 0, refused = 0;
  for (long cols : {576L, 200L, 100L, 64L, 7L}) {
    for (int kind = 0; kind < 2; ++kind) {
      const MatrixF x = kind == 0 ? awkward_matrix(9, cols, rng) : zero_and_tie_matrix(8, cols, rng);
      for (const QuantSpec& fine : specs) {
        for (const QuantSpec& coarse : specs) {
          if (!can_coarsen_range(fine, coarse)) {
            EXPECT_THROW(coarsen_range(observe_range(x, fine, "x"), fine, coarse, x.rows(), cols), Error);
            ++refused;
            continue;
          }
          const std::string what = "cols " + std::to_string(cols) + " kind " + std::to_string(kind) + " " +
                                   granularity_name(fine, TensorRole::kWeight) + " -> " +
                                   granularity_name(coarse, TensorRole::kWeight);
          const RangeStats want = observe_range(x, coarse, "x");
          const RangeStats got = coarsen_range(observe_range(x, fine, "x"), fine, coarse, x.rows(), cols);
          expect_same_bits(got.absmax, want.absmax, what + " absmax");
          expect_same_bits(got.min, want.min, what + " min");
          expect_same_bits(got.max, want.max, what + " max");
          ++pairs;
        }
      }
    }
  }
  // Per matrix, of the 36 (fine, coarse) pairs 16 can be coarsened: to per-tensor
  // from 5, per-row from 4, group128 from 3, group64 from 2, group32 and
  // per-column only from themselves.
  EXPECT_EQ(pairs, 10 * 16);
  EXPECT_EQ(refused, 10 * 20);
}

TEST(QuantizeLoops, RoundHalfEvenMatchesNearbyint) {
  const float cases[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, -0.0f, 0.0f, -0.3f, 0.49999997f,
                         8388607.5f, -8388607.5f, 8388608.0f, 16777217.0f, 1e30f, -1e-40f,
                         std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity()};
  for (float v : cases) EXPECT_EQ(bits(round_half_even(v)), bits(std::nearbyint(v))) << v;
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 1000000; ++i) {
    uint32_t u = any(rng);
    float v;
    std::memcpy(&v, &u, sizeof v);
    if (std::isnan(v)) continue;
    ASSERT_EQ(bits(round_half_even(v)), bits(std::nearbyint(v))) << v;
  }
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(QuantizeLoops, NonFiniteNamesRowAndChannel) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    const std::string kind = std::isnan(bad) ? "NaN" : "Inf";
    for (long col : {0L, 5L, 37L, 199L}) {
      std::mt19937 rng(11);
      MatrixF x = awkward_matrix(4, 200, rng);
      x(2, col) = bad;
      x(3, 0) = std::numeric_limits<float>::quiet_NaN();  // a later row: not the first
      const std::string want = "x: " + kind + " at row 2, channel " + std::to_string(col) +
                               " (expected finite values)";
      for (const QuantSpec& spec : all_specs()) {
        EXPECT_EQ(message_of([&] { observe_range(x, spec, "x"); }), want);
        MatrixF clean = x;
        clean(2, col) = 1.0f;
        clean(3, 0) = 1.0f;
        const QuantParams params = dynamic_params(clean, spec, "clean");
        EXPECT_EQ(message_of([&] { quantize(x, spec, params, "x"); }), want);
        EXPECT_EQ(message_of([&] { fake_quantize(x, spec, "x"); }), want);
      }
    }
  }
}

}  // namespace
}  // namespace sqsim


namespace sqsim {
// The AVX-512 row kernel takes v / scale's code from v * fl(1 / scale) and
// divides only near ties (quant/quantize_row_avx512.cpp): the codes must be
// the division's for values at, just beside and far from every half step,
// for awkward scales (tiny, subnormal with an infinite reciprocal, huge) and,
// for the probabilities' step 1/127, for every 7th float in [0, 1].
TEST(QuantizeLoops, QuotientFromTheReciprocalKeepsTheDivisionsCodes) {
  if (!cpu_has_avx512_quant_flags()) GTEST_SKIP() << "no AVX-512 on this CPU: only the portable build runs";
  const auto codes_of = [](const std::vector<float>& x, float scale, bool symmetric, bool avx512) {
    std::vector<int16_t> codes(x.size());
    const int32_t zp = symmetric ? 0 : 3;
    QuantizeRow r;
    r.x = x.data();
    r.n = long(x.size());
    r.run = r.n;
    r.scale = &scale;
    r.zero_point = &zp;
    r.lo = symmetric ? -128 : 0;
    r.hi = symmetric ? 127 : 255;
    r.symmetric = symmetric;
    r.codes = codes.data();
    if (avx512) quantize_row_nearest_avx512(r);
    else quantize_row_nearest_portable(r);
    return codes;
  };
  std::mt19937 rng(5);
  std::vector<float> scales = {1.0f / 127.0f, 1.0f / 255.0f, 0.0123f, 3.7f, 1e-38f, 1e-39f, 1e-45f,
                               0x1p-126f, 1e30f, 0.1f, 1.0f / 3.0f};
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  for (int i = 0; i < 40; ++i) scales.push_back(std::exp2(u(rng)) * (1.0f + 0.001f * float(i)));
  long ties = 0;
  for (float s : scales) {
    std::vector<float> x;
    for (int k = -300; k <= 300; ++k) {
      for (float base : {(float(k) + 0.5f) * s, float(k) * s}) {
        float lo = base, hi = base;
        x.push_back(base);
        for (int step = 0; step < 4; ++step) {
          lo = std::nextafter(lo, -INFINITY);
          hi = std::nextafter(hi, INFINITY);
          x.push_back(lo);
          x.push_back(hi);
        }
      }
    }
    for (float v : x) ties += std::nearbyint(v / s) != std::nearbyint(v * (1.0f / s));
    for (bool sym : {true, false})
      ASSERT_EQ(codes_of(x, s, sym, false), codes_of(x, s, sym, true)) << "scale " << s << (sym ? " sym" : " asym");
  }
  // The shortcut alone would have been wrong somewhere: the fallback is needed.
  EXPECT_GT(ties, 0);
  // In chunks of 2^20 floats: the whole range at once would take a gigabyte.
  std::vector<float> chunk;
  for (uint64_t b = 0; b <= 0x3f800000u;) {
    chunk.clear();
    for (; b <= 0x3f800000u && chunk.size() < (1u << 20); b += 7) {
      const uint32_t bits = uint32_t(b);
      float p;
      std::memcpy(&p, &bits, 4);
      chunk.push_back(p);
    }
    ASSERT_EQ(codes_of(chunk, 1.0f / 127.0f, true, false), codes_of(chunk, 1.0f / 127.0f, true, true)) << b;
  }
}

}  // namespace sqsim
