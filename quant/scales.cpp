#include "quant/scales.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "quant/rounding.h"

namespace sqsim {

namespace {

// A range with n groups, each empty: absmax 0, min +inf, max -inf.
RangeStats empty_range(long n) {
  RangeStats r;
  r.absmax.assign(n, 0.0f);
  r.min.assign(n, std::numeric_limits<float>::infinity());
  r.max.assign(n, -std::numeric_limits<float>::infinity());
  return r;
}

// The fold of the definition: group p takes in the next value (absmax |v|,
// min v, max v), or the statistics of the next run of values, in order.
// std::max/std::min keep the earlier value on a tie.
inline void fold_range(RangeStats& r, long p, float absmax, float min, float max) {
  r.absmax[p] = std::max(r.absmax[p], absmax);
  r.min[p] = std::min(r.min[p], min);
  r.max[p] = std::max(r.max[p], max);
}

// absmax / min / max of one run of values that share a parameter, exactly as
// the element-by-element fold `acc = std::max(acc, v)` (resp. std::min) over
// the run in order would give them, but written so GCC vectorizes it.
//
// kLanes independent accumulators reduce interleaved elements; combining them
// afterwards reorders the fold. That is harmless for every value except zero:
// std::min/std::max keep the first operand on ties, so the sequential fold
// returns the FIRST element equal to the extreme, and +0.0 == -0.0 are the only
// equal floats with different bits (NaN/Inf were rejected before). absmax
// folds fabs values, which are never -0.0, so it is order-independent; for
// min/max we re-scan for the first zero of the run when the extreme is zero.
struct RunRange {
  float absmax, min, max;
};

RunRange observe_run(const float* v, long n) {
  constexpr int kLanes = 16;
  float am[kLanes], mn[kLanes], mx[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    am[l] = 0.0f;
    mn[l] = std::numeric_limits<float>::infinity();
    mx[l] = -std::numeric_limits<float>::infinity();
  }
  long j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float x = v[j + l];
      am[l] = std::max(am[l], std::fabs(x));
      mn[l] = std::min(mn[l], x);
      mx[l] = std::max(mx[l], x);
    }
  }
  for (; j < n; ++j) {
    am[0] = std::max(am[0], std::fabs(v[j]));
    mn[0] = std::min(mn[0], v[j]);
    mx[0] = std::max(mx[0], v[j]);
  }
  RunRange out{am[0], mn[0], mx[0]};
  for (int l = 1; l < kLanes; ++l) {
    out.absmax = std::max(out.absmax, am[l]);
    out.min = std::min(out.min, mn[l]);
    out.max = std::max(out.max, mx[l]);
  }
  // The extreme is zero: the sequential fold would have kept the first zero.
  if (out.min == 0.0f) out.min = *std::find(v, v + n, 0.0f);
  if (out.max == 0.0f) out.max = *std::find(v, v + n, 0.0f);
  return out;
}

}  // namespace

RangeStats observe_range(const MatrixF& x, const QuantSpec& spec, const std::string& what, FiniteCheck check) {
  spec.validate(what);
  spec.validate_shape(x.rows(), x.cols(), what);
  const long n = spec.num_params(x.rows(), x.cols());
  const long cols = x.cols();
  RangeStats r = empty_range(n);
  // The definition: for every element v of a parameter group, in row-major
  // order, absmax = max(absmax, |v|), min = min(min, v), max = max(max, v)
  // (std::max/std::min: ties keep the earlier value). The loops below walk the
  // groups as contiguous runs so the inner loops have no index math.
  for (long i = 0; i < x.rows(); ++i) {
    const float* row = x.row(i).data();
    if (check == FiniteCheck::kCheck) require_finite_row(row, cols, i, what);
    if (spec.granularity == Granularity::kPerColumn) {
      // Parameter = column: each group gets one element per row, in row
      // order, so the elementwise update is the sequential fold.
      for (long j = 0; j < cols; ++j) fold_range(r, j, std::fabs(row[j]), row[j], row[j]);
      continue;
    }
    // Per-tensor and per-row: the whole row is one run; per-group: runs of
    // group_size columns, the last one possibly narrower.
    const long run = spec.granularity == Granularity::kPerGroup ? spec.group_size : cols;
    for (long c0 = 0; c0 < cols; c0 += run) {
      const long p = spec.param_index(i, c0, cols);
      const RunRange rr = observe_run(row + c0, std::min(run, cols - c0));
      // Folding a run's (sequential) result into the accumulator with the same
      // std::max/std::min equals folding its elements one by one.
      fold_range(r, p, rr.absmax, rr.min, rr.max);
    }
  }
  return r;
}

bool can_coarsen_range(const QuantSpec& fine, const QuantSpec& coarse) {
  switch (coarse.granularity) {
    case Granularity::kPerTensor:
      return fine.granularity == Granularity::kPerTensor || fine.granularity == Granularity::kPerRow ||
             fine.granularity == Granularity::kPerGroup;
    case Granularity::kPerRow:
      return fine.granularity == Granularity::kPerRow || fine.granularity == Granularity::kPerGroup;
    case Granularity::kPerGroup:
      return fine.granularity == Granularity::kPerGroup && coarse.group_size % fine.group_size == 0;
    case Granularity::kPerColumn:
      return fine.granularity == Granularity::kPerColumn;
  }
  return false;
}

RangeStats coarsen_range(const RangeStats& fine, const QuantSpec& fine_spec, const QuantSpec& coarse_spec, long rows,
                         long cols) {
  if (!can_coarsen_range(fine_spec, coarse_spec) ||
      static_cast<long>(fine.size()) != fine_spec.num_params(rows, cols)) {
    throw Error("coarsen_range: these range statistics cannot give the requested granularity");
  }
  RangeStats r = empty_range(coarse_spec.num_params(rows, cols));
  // Fine parameter f covers a run of elements that lies inside one coarse
  // group, and the fine parameters are in row-major order of their runs, so
  // folding them in index order is folding the elements in order.
  const long fine_per_row = fine_spec.granularity == Granularity::kPerGroup ? fine_spec.groups_per_row(cols) : 1;
  // Per-row and per-group fine parameters: row f / fine_per_row, first column
  // (f % fine_per_row) * group_size; per-tensor and per-column map to 0 and f.
  for (long f = 0; f < static_cast<long>(fine.size()); ++f) {
    long p = f;
    if (fine_spec.granularity == Granularity::kPerTensor) p = 0;
    else if (fine_spec.granularity != Granularity::kPerColumn)
      p = coarse_spec.param_index(f / fine_per_row, (f % fine_per_row) * fine_spec.group_size, cols);
    fold_range(r, p, fine.absmax[f], fine.min[f], fine.max[f]);
  }
  return r;
}

void merge_range(RangeStats& into, const RangeStats& more, const std::string& what) {
  if (into.size() == 0) {
    into = more;
    return;
  }
  if (into.size() != more.size()) {
    throw Error(what + ": calibration batches disagree on the number of scale groups (" +
                std::to_string(into.size()) + " vs " + std::to_string(more.size()) + ")");
  }
  for (size_t i = 0; i < into.size(); ++i) fold_range(into, static_cast<long>(i), more.absmax[i], more.min[i], more.max[i]);
}

QuantParams params_from_range(const RangeStats& range, const QuantSpec& spec) {
  QuantParams p;
  const size_t n = range.size();
  p.scale.resize(n);
  p.zero_point.assign(n, 0);
  const float qmax = static_cast<float>(spec.qmax());
  if (spec.symmetric) {
    const float denom = spec.scale_rule == ScaleRule::kHalfRange
                            ? static_cast<float>((1 << spec.bits) - 1) / 2.0f
                            : qmax;
    if (spec.scale_rule == ScaleRule::kReciprocal) p.multiplier.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const float a = std::max(range.absmax[i], 1e-5f);
      p.scale[i] = a / denom;
      if (spec.scale_rule == ScaleRule::kReciprocal) p.multiplier[i] = qmax / a;
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const float s = std::max(range.max[i] - range.min[i], 1e-5f) / qmax;
      p.scale[i] = s;
      // The zero point is rounded with the codes' mode; a stochastic one is
      // keyed by the group index, so it is still a pure function of the input.
      const float zp = round_value(-range.min[i] / s, spec.rounding, spec.seed, i);
      p.zero_point[i] = clamp_to_int(zp, 0, spec.qmax());
    }
  }
  return p;
}

}  // namespace sqsim
