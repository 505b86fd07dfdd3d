#include "quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "quant/cpu_avx512.h"
#include "base/error.h"
#include "quant/quantize_row.h"
#include "quant/rounding.h"

namespace sqsim {

QuantParams dynamic_params(const MatrixF& x, const QuantSpec& spec, const std::string& what) {
  return params_from_range(observe_range(x, spec, what), spec);
}

namespace {

// Calls f with the run-time flag as a compile-time one (std::true_type or
// std::false_type), so that f's loops are specialized for it.
template <class F>
void with_flag(bool flag, F&& f) {
  if (flag) f(std::true_type{});
  else f(std::false_type{});
}

// quantize; with `measure`, each row's error sums are added as soon as its
// codes are made.
QuantizedMatrix quantize_rows(const MatrixF& x, const QuantSpec& spec, const QuantParams& params,
                              const std::string& what, FiniteCheck check, ErrorLaneState* measure,
                              ErrorSumsParts parts) {
  spec.validate(what);
  if (!spec.enabled()) throw Error(what + ": bits = 16 means not quantized; there are no codes");
  spec.validate_shape(x.rows(), x.cols(), what);
  const long expected = spec.num_params(x.rows(), x.cols());
  if (static_cast<long>(params.scale.size()) != expected ||
      static_cast<long>(params.zero_point.size()) != expected) {
    throw Error(what + ": " + std::to_string(params.scale.size()) +
                " quantization parameters for a tensor that needs " + std::to_string(expected));
  }
  const bool reciprocal = spec.symmetric && spec.scale_rule == ScaleRule::kReciprocal;
  if (reciprocal && static_cast<long>(params.multiplier.size()) != expected) {
    throw Error(what + ": reciprocal scale rule needs a multiplier per scale");
  }
  QuantizedMatrix q;
  q.rows = x.rows();
  q.cols = x.cols();
  q.spec = spec;
  q.params = params;
  q.codes.resize(static_cast<size_t>(q.rows) * q.cols);
  const int lo = spec.qmin(), hi = spec.qmax();
  // The definition, per element v of parameter group p at flat index i:
  //   scaled  = reciprocal ? v * multiplier[p] : v / scale[p]
  //   rounded = round_value(scaled, rounding, seed, i)
  //   code    = clamp_to_int(rounded (+ zero_point[p] if asymmetric), lo, hi)
  // The loops below walk each row as runs of columns sharing one parameter
  // (per-column: the parameter moves with the column), so the inner loop has
  // no index math and, for nearest-even rounding, vectorizes.
  const bool nearest = spec.rounding == Rounding::kHalfEven;
  // Per-group: runs of group_size columns, the last possibly narrower; every
  // other granularity: the whole row is one run.
  const long run = spec.granularity == Granularity::kPerGroup ? spec.group_size : q.cols;
  const bool per_column = spec.granularity == Granularity::kPerColumn;
  // The measurement compares each row with its dequantized values; with
  // nearest-even rounding they come from the quantizing loop itself.
  thread_local std::vector<float> dequantized;
  if (measure) dequantized.resize(static_cast<size_t>(q.cols));
  for (long r = 0; r < q.rows; ++r) {
    const float* row = x.row(r).data();
    // Before any code is formed: the codes of a NaN would be meaningless.
    if (check == FiniteCheck::kCheck) require_finite_row(row, q.cols, r, what);
    int16_t* out = q.codes.data() + r * q.cols;
    if (nearest) {
      quantize_row_codes(row, q.cols, r, spec, params, out, measure ? dequantized.data() : nullptr);
    } else {
      // Other rounding modes, element by element (round_value; stochastic
      // rounding needs the flat index).
      for (long c0 = 0; c0 < q.cols; c0 += run) {
        const long n = std::min(run, q.cols - c0);
        const long p = spec.param_index(r, c0, q.cols);
        const float* scale = params.scale.data() + p;
        const float* mult = reciprocal ? params.multiplier.data() + p : nullptr;
        const int32_t* zp = params.zero_point.data() + p;
        const uint64_t index0 = static_cast<uint64_t>(r) * q.cols + c0;
        for (long c = 0; c < n; ++c) {
          const long k = per_column ? c : 0;
          const float v = row[c0 + c];
          const float scaled = reciprocal ? v * mult[k] : v / scale[k];
          const float rounded = round_value(scaled, spec.rounding, spec.seed, index0 + c);
          const float shifted = spec.symmetric ? rounded : rounded + static_cast<float>(zp[k]);
          out[c0 + c] = static_cast<int16_t>(clamp_to_int(shifted, lo, hi));
        }
      }
    }
    if (measure) {
      if (!nearest) dequantize_row(q, r, dequantized.data());
      error_sums_add(*measure, row, dequantized.data(), q.cols, ErrorSumsPath::kAuto, parts);
    }
  }
  return q;
}

}  // namespace

void quantize_row_nearest(const QuantizeRow& r) {
  static const bool avx512 = cpu_has_avx512_quant_flags();
  if (avx512) quantize_row_nearest_avx512(r);
  else quantize_row_nearest_portable(r);
}

QuantizeRow quantize_row_job(const float* row, long cols, long r, const QuantSpec& spec, const QuantParams& params,
                             int16_t* codes, float* dequantized) {
  const bool reciprocal = spec.symmetric && spec.scale_rule == ScaleRule::kReciprocal;
  const long p = spec.param_index(r, 0, cols);  // the row's first run; run j uses p + j
  QuantizeRow qr;
  qr.x = row;
  qr.n = cols;
  qr.run = spec.granularity == Granularity::kPerGroup ? spec.group_size : cols;
  qr.scale = params.scale.data() + p;
  qr.multiplier = reciprocal ? params.multiplier.data() + p : nullptr;
  qr.zero_point = params.zero_point.data() + p;
  qr.lo = spec.qmin();
  qr.hi = spec.qmax();
  qr.per_column = spec.granularity == Granularity::kPerColumn;
  qr.reciprocal = reciprocal;
  qr.symmetric = spec.symmetric;
  qr.codes = codes;
  qr.dequantized = dequantized;
  return qr;
}

void quantize_row_codes(const float* row, long cols, long r, const QuantSpec& spec, const QuantParams& params,
                        int16_t* codes, float* dequantized) {
  // The common mode: quant/quantize_row.h, vectorized per instruction set.
  quantize_row_nearest(quantize_row_job(row, cols, r, spec, params, codes, dequantized));
}

QuantizedMatrix quantize(const MatrixF& x, const QuantSpec& spec, const QuantParams& params,
                         const std::string& what, FiniteCheck check) {
  return quantize_rows(x, spec, params, what, check, nullptr, ErrorSumsParts::kAll);
}

QuantizedMatrix quantize_and_measure(const MatrixF& x, const QuantSpec& spec, const QuantParams& params,
                                     const std::string& what, FiniteCheck check, ErrorSumsParts parts,
                                     ErrorLaneState& sums) {
  return quantize_rows(x, spec, params, what, check, &sums, parts);
}

QuantizedMatrix quantize(const MatrixF& x, const QuantSpec& spec, const std::string& what) {
  return quantize(x, spec, dynamic_params(x, spec, what), what);
}

void dequantize_row(const QuantizedMatrix& q, long r, float* row) {
  // value = (code - zero_point[p]) * scale[p], walked as runs of columns that
  // share p (as in quantize) so the inner loop vectorizes.
  const long run = q.spec.granularity == Granularity::kPerGroup ? q.spec.group_size : q.cols;
  const bool per_column = q.spec.granularity == Granularity::kPerColumn;
  const int16_t* codes = q.codes.data() + r * q.cols;
  for (long c0 = 0; c0 < q.cols; c0 += run) {
    const long n = std::min(run, q.cols - c0);
    const long p = q.spec.param_index(r, c0, q.cols);
    const float* scale = q.params.scale.data() + p;
    const int32_t* zp = q.params.zero_point.data() + p;
    with_flag(per_column, [&](auto per_col) {
      for (long c = 0; c < n; ++c) {
        const long k = decltype(per_col)::value ? c : 0;
        row[c0 + c] = static_cast<float>(codes[c0 + c] - zp[k]) * scale[k];
      }
    });
  }
}

MatrixF dequantize(const QuantizedMatrix& q) {
  MatrixF out(q.rows, q.cols);
  for (long r = 0; r < q.rows; ++r) dequantize_row(q, r, out.row(r).data());
  return out;
}

MatrixF fake_quantize(const MatrixF& x, const QuantSpec& spec, const std::string& what,
                      const QuantParams* static_params) {
  spec.validate(what);
  if (!spec.enabled()) {
    require_finite(x, what);
    return x;
  }
  if (static_params) return dequantize(quantize(x, spec, *static_params, what));
  return dequantize(quantize(x, spec, what));
}

}  // namespace sqsim
