#pragma once
// How outlier-heavy an activation matrix is (docs/quantization.md,
// "Outlier metrics").
#include <string>
#include <vector>

#include "base/tensor.h"

namespace sqsim {

struct OutlierOptions {
  double sigma_threshold = 6.0;          // channels with absmax > t * sigma
  double median_ratio_threshold = 20.0;  // channels with absmax > t * median absmax
  int top_k = 8;
};

struct OutlierReport {
  VectorF channel_absmax;
  double max_median_ratio = 0;
  double kurtosis = 0;  // Pearson (a Gaussian gives 3)
  double stddev = 0;    // population standard deviation of all entries
  int channels_over_sigma = 0;
  int channels_over_median = 0;
  double topk_consistency = 0;
  std::vector<int> top_channels;  // the k channels with the largest absmax, largest first
};

OutlierReport analyze_outliers(const MatrixF& x, const OutlierOptions& options, const std::string& what);
OutlierReport analyze_outliers(const MatrixF& x, const std::string& what);

// Indices of the k largest values, largest first, ties to the lower index.
std::vector<int> top_k_indices(const float* values, int n, int k);

}  // namespace sqsim
