// quantize_row_nearest in plain C++ (any CPU): the definition of the codes.
#include "quant/quantize_row.h"
#include "quant/rounding.h"

namespace sqsim {

namespace {

// Per element v with parameter k:
//   scaled = reciprocal ? v * multiplier[k] : v / scale[k]
//   code   = clamp_to_int(round_half_even(scaled) (+ zero_point[k] if asymmetric), lo, hi)
// and, when asked, dequantize_row's value (code - zero_point[k]) * scale[k].
// The flags are compile-time so the loop has no branches and vectorizes.
template <bool kPerColumn, bool kReciprocal, bool kSymmetric>
void run_loop(const QuantizeRow& r, long c0, long n, long p) {
  const float* x = r.x + c0;
  const float* scale = r.scale + p;
  const float* mult = kReciprocal ? r.multiplier + p : nullptr;
  const int32_t* zp = r.zero_point + p;
  int16_t* codes = r.codes + c0;
  const int lo = r.lo, hi = r.hi;
  for (long c = 0; c < n; ++c) {
    const long k = kPerColumn ? c : 0;
    const float scaled = kReciprocal ? x[c] * mult[k] : x[c] / scale[k];
    const float rounded = round_half_even(scaled);
    // Asymmetric: round(x/s) + zp, clamped: the sum is formed in float,
    // exact for any code that survives the clamp.
    const float shifted = kSymmetric ? rounded : rounded + static_cast<float>(zp[k]);
    codes[c] = static_cast<int16_t>(clamp_to_int(shifted, lo, hi));
  }
  if (r.dequantized) {
    float* out = r.dequantized + c0;
    for (long c = 0; c < n; ++c) {
      const long k = kPerColumn ? c : 0;
      out[c] = static_cast<float>(codes[c] - zp[k]) * scale[k];
    }
  }
}

template <bool kPerColumn, bool kReciprocal, bool kSymmetric>
void row_loop(const QuantizeRow& r) {
  if (kPerColumn) return run_loop<true, kReciprocal, kSymmetric>(r, 0, r.n, 0);
  for (long c0 = 0, j = 0; c0 < r.n; c0 += r.run, ++j)
    run_loop<false, kReciprocal, kSymmetric>(r, c0, r.run < r.n - c0 ? r.run : r.n - c0, j);
}

template <bool kPerColumn, bool kReciprocal>
void pick_symmetric(const QuantizeRow& r) {
  if (r.symmetric) row_loop<kPerColumn, kReciprocal, true>(r);
  else row_loop<kPerColumn, kReciprocal, false>(r);
}

template <bool kPerColumn>
void pick_reciprocal(const QuantizeRow& r) {
  if (r.reciprocal) pick_symmetric<kPerColumn, true>(r);
  else pick_symmetric<kPerColumn, false>(r);
}

}  // namespace

void quantize_row_nearest_portable(const QuantizeRow& r) {
  if (r.per_column) pick_reciprocal<true>(r);
  else pick_reciprocal<false>(r);
}

}  // namespace sqsim
