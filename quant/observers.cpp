#include "quant/observers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "base/error.h"

namespace sqsim {

namespace {

int qmax_of(int bits) {
  if (bits < 2 || bits > 8) throw Error("observer: bits must be 2..8, got " + std::to_string(bits));
  return (1 << (bits - 1)) - 1;
}

// Index of the last non-empty bin, or -1.
long last_nonempty(const std::vector<uint64_t>& counts) {
  for (long i = long(counts.size()) - 1; i >= 0; --i)
    if (counts[size_t(i)]) return i;
  return -1;
}

}  // namespace

ObserverSpec parse_observer(const std::string& text, const std::string& option) {
  ObserverSpec spec;
  if (text == "absmax") return spec;
  if (text == "mse") {
    spec.kind = ObserverKind::kMse;
    return spec;
  }
  if (text == "entropy") {
    spec.kind = ObserverKind::kEntropy;
    return spec;
  }
  const std::string prefix = "percentile:";
  if (text.compare(0, prefix.size(), prefix) == 0) {
    const std::string value = text.substr(prefix.size());
    char* end = nullptr;
    const double p = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(p > 0 && p <= 100))
      throw Error(option + " '" + text + "': the percentile must be a number in (0, 100], e.g. percentile:99.99");
    spec.kind = ObserverKind::kPercentile;
    spec.percentile = p;
    return spec;
  }
  throw Error(option + " '" + text + "': expected absmax, percentile:P (0 < P <= 100), mse or entropy");
}

std::string observer_name(const ObserverSpec& spec) {
  switch (spec.kind) {
    case ObserverKind::kAbsmax: return "absmax";
    case ObserverKind::kMse: return "mse";
    case ObserverKind::kEntropy: return "entropy";
    case ObserverKind::kPercentile: {
      // The shortest of %.15g / %.17g that reads back as the same double.
      char buf[48];
      std::snprintf(buf, sizeof buf, "%.15g", spec.percentile);
      if (std::strtod(buf, nullptr) != spec.percentile) std::snprintf(buf, sizeof buf, "%.17g", spec.percentile);
      return std::string("percentile:") + buf;
    }
  }
  return "absmax";
}

void validate_observer_bins(int bins, const std::string& option) {
  if (bins < 128 || bins > (1 << 20) || (bins & (bins - 1)) != 0)
    throw Error(option + " " + std::to_string(bins) + ": the bin count must be a power of two from 128 to 1048576");
}

AbsHistogram::AbsHistogram(int bins) {
  validate_observer_bins(bins, "histogram bins");
  counts_.assign(size_t(bins), 0);
}

void AbsHistogram::double_range() {
  const size_t n = counts_.size();
  for (size_t i = 0; i < n / 2; ++i) counts_[i] = counts_[2 * i] + counts_[2 * i + 1];
  for (size_t i = n / 2; i < n; ++i) counts_[i] = 0;
  range_ *= 2.0;
}

void AbsHistogram::grow_to(float v) {
  if (v == 0.0f) return;
  if (range_ == 0.0) {  // the first non-zero value: the smallest power of two above it
    int e = 0;
    std::frexp(double(v), &e);
    range_ = std::ldexp(1.0, e);
    return;
  }
  while (double(v) >= range_) double_range();
}

void AbsHistogram::add(const float* x, long n, const std::string& what) {
  float batch_max = 0.0f;
  for (long k = 0; k < n; ++k) {
    if (!std::isfinite(x[k])) throw Error(what + ": value " + std::to_string(k) + " is NaN or Inf");
    batch_max = std::max(batch_max, std::fabs(x[k]));
  }
  grow_to(batch_max);
  absmax_ = std::max(absmax_, batch_max);
  // Zeros sit in bin 0 at any range; otherwise N / R is a power of two, so the
  // products are exact.
  const double per_unit = range_ == 0.0 ? 0.0 : double(counts_.size()) / range_;
  const size_t last = counts_.size() - 1;
  for (long k = 0; k < n; ++k) {
    const double pos = double(std::fabs(x[k])) * per_unit;
    counts_[std::min(size_t(pos), last)] += 1;
  }
}

void AbsHistogram::merge(const AbsHistogram& other) {
  if (other.counts_.size() != counts_.size())
    throw Error("histogram merge: " + std::to_string(other.counts_.size()) + " bins into " +
                std::to_string(counts_.size()));
  AbsHistogram o = other;
  // Both ranges are powers of two (or unset: only zeros so far): bring the
  // smaller one up to the larger.
  if (range_ == 0.0) range_ = o.range_;
  if (o.range_ == 0.0) o.range_ = range_;
  while (range_ < o.range_) double_range();
  while (o.range_ < range_) o.double_range();
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  absmax_ = std::max(absmax_, o.absmax_);
}

double AbsHistogram::total() const {
  double t = 0;
  for (uint64_t c : counts_) t += double(c);
  return t;
}

double mse_objective(const AbsHistogram& h, double clip, int bits) {
  const int qmax = qmax_of(bits);
  const double s = std::max(clip, 1e-5) / qmax;
  const double w = h.bin_width();
  double e = 0;
  const std::vector<uint64_t>& H = h.counts();
  for (size_t i = 0; i < H.size(); ++i) {
    if (!H[i]) continue;
    const double m = (double(i) + 0.5) * w;
    const double q = s * std::min(std::nearbyint(m / s), double(qmax));  // ties to even
    e += double(H[i]) * (m - q) * (m - q);
  }
  return e;
}

namespace {

// Zeros raised to eps and the non-zeros lowered by eps * zeros / non-zeros
// (the total is kept); false when that leaves an entry <= 0 or all are zero.
bool smooth(std::vector<double>& v, double eps) {
  size_t zeros = 0;
  for (double x : v) zeros += x == 0;
  const size_t nonzeros = v.size() - zeros;
  if (nonzeros == 0) return false;
  const double take = eps * double(zeros) / double(nonzeros);
  for (double& x : v) {
    x = x == 0 ? eps : x - take;
    if (!(x > 0)) return false;
  }
  return true;
}

}  // namespace

double entropy_objective(const AbsHistogram& h, int kept_bins, int bits) {
  const long L = qmax_of(bits) + 1;
  const std::vector<uint64_t>& H = h.counts();
  const long n = kept_bins;
  if (n < L || n > long(H.size())) throw Error("entropy_objective: kept bins out of range");
  // 1. The reference: the kept bins, with everything beyond added to the last.
  std::vector<double> P(static_cast<size_t>(n)), Q(static_cast<size_t>(n), 0.0);
  for (long k = 0; k < n; ++k) P[size_t(k)] = double(H[size_t(k)]);
  for (size_t k = size_t(n); k < H.size(); ++k) P[size_t(n - 1)] += double(H[k]);
  // 2. L chunks of floor(n / L) bins (the last takes the rest); each chunk's
  // mass without the tail, spread evenly over its bins where P > 0.
  const long m = n / L;
  for (long t = 0; t < L; ++t) {
    const long lo = t * m, hi = t == L - 1 ? n : lo + m;
    double mass = 0;
    long nonzero = 0;
    for (long k = lo; k < hi; ++k) {
      mass += double(H[size_t(k)]);
      nonzero += P[size_t(k)] > 0;
    }
    if (nonzero == 0) continue;
    for (long k = lo; k < hi; ++k)
      if (P[size_t(k)] > 0) Q[size_t(k)] = mass / double(nonzero);
  }
  // 3. Smoothed, normalised, KL(p || q).
  constexpr double kEps = 1e-4;
  if (!smooth(P, kEps) || !smooth(Q, kEps)) return std::numeric_limits<double>::infinity();
  double sp = 0, sq = 0;
  for (long k = 0; k < n; ++k) {
    sp += P[size_t(k)];
    sq += Q[size_t(k)];
  }
  double kl = 0;
  for (long k = 0; k < n; ++k) {
    const double p = P[size_t(k)] / sp, q = Q[size_t(k)] / sq;
    kl += p * std::log(p / q);
  }
  return kl;
}

float observer_clip(const AbsHistogram& h, const ObserverSpec& spec, int bits) {
  qmax_of(bits);
  const float absmax = h.absmax();
  if (spec.kind == ObserverKind::kAbsmax || absmax == 0.0f) return absmax;
  const std::vector<uint64_t>& H = h.counts();
  const double w = h.bin_width();
  const long last = last_nonempty(H);
  auto edge = [&](long bins_kept) { return std::min(float(double(bins_kept) * w), absmax); };
  switch (spec.kind) {
    case ObserverKind::kPercentile: {
      const double need = spec.percentile / 100.0 * h.total();
      double cum = 0;
      for (long i = 0; i <= last; ++i) {
        cum += double(H[size_t(i)]);
        if (cum >= need) return edge(i + 1);
      }
      return absmax;
    }
    case ObserverKind::kMse: {
      long best = 0;
      double best_e = std::numeric_limits<double>::infinity();
      for (long j = 0; j <= last; ++j) {
        const double e = mse_objective(h, double(edge(j + 1)), bits);
        if (e < best_e) {
          best_e = e;
          best = j;
        }
      }
      return edge(best + 1);
    }
    case ObserverKind::kEntropy: {
      const long L = qmax_of(bits) + 1;
      if (last + 1 < L) return absmax;
      long best = -1;
      double best_kl = std::numeric_limits<double>::infinity();
      for (long n = L; n <= last + 1; ++n) {
        const double kl = entropy_objective(h, int(n), bits);
        if (kl < best_kl) {
          best_kl = kl;
          best = n;
        }
      }
      return best < 0 ? absmax : edge(best);
    }
    case ObserverKind::kAbsmax: break;
  }
  return absmax;
}

}  // namespace sqsim
