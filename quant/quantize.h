#pragma once
// Quantize, dequantize and fake-quantize a matrix under a QuantSpec
// (docs/quantization.md, "Symmetric" and "Asymmetric").
#include <cstdint>
#include <string>
#include <vector>

#include "quant/error_sums.h"
#include "quant/quant_spec.h"
#include "quant/scales.h"
#include "base/tensor.h"

namespace sqsim {

// Integer codes (int16 holds every code of 2..8 bits, signed or unsigned)
// with the parameters that dequantize them.
struct QuantizedMatrix {
  long rows = 0, cols = 0;
  QuantSpec spec;
  QuantParams params;
  std::vector<int16_t> codes;  // row-major [rows, cols]
  int16_t code(long r, long c) const { return codes[r * cols + c]; }
  int32_t zero_point(long r, long c) const { return params.zero_point[spec.param_index(r, c, cols)]; }
  float scale(long r, long c) const { return params.scale[spec.param_index(r, c, cols)]; }
};

// Parameters from the tensor itself (dynamic scales).
QuantParams dynamic_params(const MatrixF& x, const QuantSpec& spec, const std::string& what);

// Codes of x under the given parameters; `what` names x in error messages.
QuantizedMatrix quantize(const MatrixF& x, const QuantSpec& spec, const QuantParams& params,
                         const std::string& what, FiniteCheck check = FiniteCheck::kCheck);
// quantize(x, spec, params, what, check), and, row by row while each row is in
// cache, the error sums (quant/error_sums.h) of x against the dequantized
// codes added to `sums`: the same codes, and the sums of error_sums_add over
// each row of x and of dequantize(q): for parts kAll, error_sums over the whole
// of x and dequantize(q) (quant/error_sums.h: the sums do not depend on the split).
QuantizedMatrix quantize_and_measure(const MatrixF& x, const QuantSpec& spec, const QuantParams& params,
                                     const std::string& what, FiniteCheck check, ErrorSumsParts parts,
                                     ErrorLaneState& sums);
// Dynamic parameters, then codes.
QuantizedMatrix quantize(const MatrixF& x, const QuantSpec& spec, const std::string& what);
// Row r of quantize(x, spec, params) for nearest-even rounding: the codes of
// `row` (cols values) into `codes`. No checks: the caller has validated the
// spec, the parameters' count and the row's values (quantize does).
void quantize_row_codes(const float* row, long cols, long r, const QuantSpec& spec, const QuantParams& params,
                        int16_t* codes, float* dequantized = nullptr);
// The row kernel's job (quant/quantize_row.h) for that row: the parameters
// from the row's first one on, its code range and flags (for tests that run
// both builds of the kernel on it). Here, not in quantize_row.h, which the
// AVX-512 build includes without Eigen.
struct QuantizeRow;
QuantizeRow quantize_row_job(const float* row, long cols, long r, const QuantSpec& spec, const QuantParams& params,
                             int16_t* codes, float* dequantized);

MatrixF dequantize(const QuantizedMatrix& q);
// Row r of dequantize(q) into out[0 .. q.cols): the same values.
void dequantize_row(const QuantizedMatrix& q, long r, float* out);

// x' = dequantize(quantize(x)); returns x unchanged when spec.bits == 16.
// `static_params` (may be null) replaces the dynamic parameters.
MatrixF fake_quantize(const MatrixF& x, const QuantSpec& spec, const std::string& what,
                      const QuantParams* static_params = nullptr);

}  // namespace sqsim
