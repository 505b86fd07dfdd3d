#include "kernels/quantize_activations.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>

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
                          spec.rounding == Rounding::kHalfEven &&
                          (spec.granularity == Granularity::kPerRow || spec.granularity == Granularity::kPerGroup);
  const long rows = x.rows(), blocks = (rows + kRowBlock - 1) / kRowBlock;
  if (!rows_alone || blocks <= 1) return whole(x, spec, static_act, padded_k, what);
  // Each block's codes and scales land at its rows' place: per-row and
  // per-group scales are stored row after row, so the concatenation in row
  // order is the whole matrix's.
  std::vector<Int8Matrix> parts(static_cast<size_t>(blocks));
  bool failed = false;
  tbb::parallel_for(tbb::blocked_range<long>(0, blocks, 1), [&](const tbb::blocked_range<long>& r) {
    for (long b = r.begin(); b < r.end(); ++b) {
      const long r0 = b * kRowBlock, n = std::min(kRowBlock, rows - r0);
      try {
        parts[size_t(b)] = whole(x.middleRows(r0, n), spec, nullptr, padded_k, what);
      } catch (const std::exception&) {
        failed = true;  // a block's error names its own row numbers: redone whole below
      }
    }
  });
  if (failed) return whole(x, spec, static_act, padded_k, what);  // throws with the whole matrix's row
  Int8Matrix out;
  const Int8Matrix& first = parts.front();
  out.rows = rows;
  out.cols = first.cols;
  out.group_size = first.group_size;
  out.layout = first.layout;
  out.bits = first.bits;
  out.codes.resize(static_cast<size_t>(rows) * out.cols);
  const size_t scales_per_block = first.scale.size() / static_cast<size_t>(first.rows);
  out.scale.resize(static_cast<size_t>(rows) * scales_per_block);
  tbb::parallel_for(tbb::blocked_range<long>(0, blocks, 1), [&](const tbb::blocked_range<long>& r) {
    for (long b = r.begin(); b < r.end(); ++b) {
      const Int8Matrix& p = parts[size_t(b)];
      const size_t r0 = static_cast<size_t>(b * kRowBlock);
      std::memcpy(out.codes.data() + r0 * out.cols, p.codes.data(), p.codes.size());
      std::copy(p.scale.begin(), p.scale.end(), out.scale.begin() + r0 * scales_per_block);
    }
  });
  return out;
}

}  // namespace sqsim::kernels
