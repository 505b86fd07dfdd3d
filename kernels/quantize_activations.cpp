#include "kernels/quantize_activations.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "quant/scales.h"

namespace sqsim::kernels {

namespace {

// Rows per parallel block: fixed, so the split never depends on the threads
// (it could not change the codes anyway: each row is quantized on its own).
constexpr long kRowBlock = 64;

Int8Matrix whole(const MatrixF& x, const QuantSpec& spec, const QuantParams* st, long padded_k,
                 const std::string& what) {
  const QuantizedMatrix q = st ? quantize(x, spec, *st, what) : quantize(x, spec, what);
  return padded_k == q.cols ? to_int8(q, what) : to_int8(pad_columns(q, padded_k), what);
}

}  // namespace

Int8Matrix quantize_activations_int8(const MatrixF& x, const QuantSpec& spec, const QuantParams* static_act,
                                     long padded_k, const std::string& what) {
  const bool rows_alone = !static_act && spec.source == ScaleSource::kDynamic &&
                          spec.rounding == Rounding::kHalfEven && spec.symmetric &&
                          (spec.granularity == Granularity::kPerRow || spec.granularity == Granularity::kPerGroup);
  const long rows = x.rows(), cols = x.cols(), blocks = (rows + kRowBlock - 1) / kRowBlock;
  if (!rows_alone || blocks <= 1 || padded_k < cols) return whole(x, spec, static_act, padded_k, what);
  spec.validate(what);
  spec.validate_shape(rows, cols, what);
  // Each block's codes and scales are written straight to its rows' place:
  // per-row and per-group scales are stored row after row, so the blocks in
  // row order are the whole matrix's. The codes of a row are quantize's
  // (quantize_row_codes), narrowed to int8 as to_int8 does; the padding
  // columns keep code 0, the zero point of symmetric codes (pad_columns).
  Int8Matrix out = int8_shape(spec, rows, padded_k, what);
  const long scales_per_row = spec.granularity == Granularity::kPerGroup ? spec.groups_per_row(cols) : 1;
  out.codes.resize(static_cast<size_t>(rows * padded_k));
  out.scale.resize(static_cast<size_t>(rows * scales_per_row));
  std::atomic<bool> failed{false};
  tbb::parallel_for(tbb::blocked_range<long>(0, blocks, 1), [&](const tbb::blocked_range<long>& r) {
    thread_local MatrixF xb;
    thread_local std::vector<int16_t> row16;
    row16.resize(static_cast<size_t>(cols));
    for (long b = r.begin(); b < r.end(); ++b) {
      const long r0 = b * kRowBlock, n = std::min(kRowBlock, rows - r0);
      xb = x.middleRows(r0, n);
      QuantParams p;
      try {
        p = params_from_range(observe_range(xb, spec, what), spec);  // checks the values are finite
      } catch (const std::exception&) {
        failed = true;  // a block's error names its own row numbers: redone whole below
        continue;
      }
      for (long i = 0; i < n; ++i) {
        quantize_row_codes(xb.row(i).data(), cols, i, spec, p, row16.data());
        const int16_t* __restrict src = row16.data();
        int8_t* __restrict dst = out.codes.data() + (r0 + i) * padded_k;
        for (long c = 0; c < cols; ++c) dst[c] = static_cast<int8_t>(src[c]);
      }
      std::copy(p.scale.begin(), p.scale.end(), out.scale.begin() + r0 * scales_per_row);
    }
  });
  if (failed) return whole(x, spec, static_act, padded_k, what);  // throws with the whole matrix's row
  return out;
}

}  // namespace sqsim::kernels
