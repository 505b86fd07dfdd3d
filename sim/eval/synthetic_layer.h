#pragma once
// A synthetic linear layer shaped like an LLM's: Gaussian activations with a
// few planted outlier channels (large, consistent across tokens, as the
// SmoothQuant paper observes) and Gaussian weights. Deterministic per seed.
#include <cstdint>
#include <vector>

#include "base/tensor.h"

namespace sqsim {

struct SyntheticLayerSpec {
  long tokens = 512;
  long in_features = 576;
  long out_features = 576;
  int outlier_channels = 4;
  float outlier_scale = 50.0f;  // outlier channels are this many times larger
  uint64_t seed = 1;
};

struct SyntheticLayer {
  MatrixF x;  // [tokens, in_features]
  MatrixF w;  // [out_features, in_features]
  std::vector<int> outlier_channels;
};

SyntheticLayer make_synthetic_layer(const SyntheticLayerSpec& spec);

}  // namespace sqsim
