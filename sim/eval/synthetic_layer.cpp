#include "sim/eval/synthetic_layer.h"

#include <cmath>
#include <random>

#include "base/error.h"

namespace sqsim {

SyntheticLayer make_synthetic_layer(const SyntheticLayerSpec& spec) {
  if (spec.tokens <= 0 || spec.in_features <= 0 || spec.out_features <= 0) {
    throw Error("synthetic layer: tokens, in and out features must be positive");
  }
  if (spec.outlier_channels < 0 || spec.outlier_channels > spec.in_features) {
    throw Error("synthetic layer: outlier channels = " + std::to_string(spec.outlier_channels) +
                " (expected 0.." + std::to_string(spec.in_features) + ")");
  }
  if (!(spec.outlier_scale > 0) || !std::isfinite(spec.outlier_scale)) {
    throw Error("synthetic layer: outlier scale must be a positive finite number");
  }
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  SyntheticLayer layer;
  layer.x.resize(spec.tokens, spec.in_features);
  layer.w.resize(spec.out_features, spec.in_features);
  for (long i = 0; i < layer.x.size(); ++i) layer.x.data()[i] = normal(rng);
  const float w_std = 1.0f / std::sqrt(static_cast<float>(spec.in_features));
  for (long i = 0; i < layer.w.size(); ++i) layer.w.data()[i] = normal(rng) * w_std;
  // Outlier channels evenly spread, so that tests know where they are.
  for (int o = 0; o < spec.outlier_channels; ++o) {
    const int c = static_cast<int>((o * 2 + 1) * spec.in_features / (2 * spec.outlier_channels));
    layer.outlier_channels.push_back(c);
    layer.x.col(c) *= spec.outlier_scale;
  }
  return layer;
}

}  // namespace sqsim
