#pragma once
// The int8 activation operand of a quantized linear layer made in one call:
// to_int8(pad_columns(quantize(x, spec, ...), padded_k)) (quant/quantize.h,
// kernels/int_weights.h), bit for bit, with the same errors. Where every row's
// parameters depend only on that row (dynamic per-row or per-group scales,
// nearest-even rounding: SmoothQuant's per-token activations) the rows are
// quantized in fixed blocks in parallel by those same functions, so the
// formulas stay in quant/ and the codes do not depend on the thread count.
#include <string>

#include "kernels/int_weights.h"
#include "quant/quantize.h"

namespace sqsim::kernels {

// static_act: the calibrated parameters for spec.source == kStatic, else null.
// padded_k >= x.cols(): columns added as pad_columns adds them.
Int8Matrix quantize_activations_int8(const MatrixF& x, const QuantSpec& spec, const QuantParams* static_act,
                                     long padded_k, const std::string& what);

}  // namespace sqsim::kernels
