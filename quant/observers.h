#pragma once
// Calibration observers: the clipping value of a static, symmetric,
// per-tensor activation quantizer, from the calibration values' maximum or
// from a histogram of their magnitudes (percentile, MSE, entropy/KL).
// docs/quantization.md, "Calibration observers", defines each one.
#include <cstdint>
#include <string>
#include <vector>

namespace sqsim {

enum class ObserverKind { kAbsmax, kPercentile, kMse, kEntropy };

struct ObserverSpec {
  ObserverKind kind = ObserverKind::kAbsmax;
  double percentile = 0;  // kPercentile only: in (0, 100]
  int bins = 2048;        // histogram bins: a power of two, 128 .. 2^20
};

// "absmax", "percentile:99.99", "mse", "entropy"; `option` names the option in
// errors (e.g. "--observer"). bins is left at its default.
ObserverSpec parse_observer(const std::string& text, const std::string& option);
// The spelling parse_observer reads ("percentile:99.99").
std::string observer_name(const ObserverSpec& spec);
// Throws unless bins is a power of two in [128, 2^20], naming `option`.
void validate_observer_bins(int bins, const std::string& option);

// The histogram of |x| over [0, range()): range() is the smallest power of two
// above every value so far; it doubles (merging bins pairwise) when a larger
// value arrives, so the counts are the same whatever the order or split of
// the values.
class AbsHistogram {
 public:
  explicit AbsHistogram(int bins = 2048);
  // Adds n values; NaN or Inf throws sqsim::Error naming `what`.
  void add(const float* x, long n, const std::string& what);
  // Adds another histogram's values (any range; same bin count).
  void merge(const AbsHistogram& other);

  int bins() const { return int(counts_.size()); }
  // 0 while every value added is 0.
  double range() const { return range_; }
  double bin_width() const { return range_ / double(counts_.size()); }
  float absmax() const { return absmax_; }
  double total() const;
  const std::vector<uint64_t>& counts() const { return counts_; }

 private:
  void double_range();    // merges bins pairwise
  void grow_to(float v);  // range_ becomes the smallest power of two > every value so far
  std::vector<uint64_t> counts_;
  double range_ = 0.0;
  float absmax_ = 0.0f;
};

// The clipping value c for a symmetric quantizer of `bits` bits (2..8).
float observer_clip(const AbsHistogram& h, const ObserverSpec& spec, int bits);

// The objectives, exposed for tests: E(c) of the mse observer and KL(n) of the
// entropy observer (+inf when a tail lands in an empty bin).
double mse_objective(const AbsHistogram& h, double clip, int bits);
double entropy_objective(const AbsHistogram& h, int kept_bins, int bits);

}  // namespace sqsim
