#pragma once
// A WeightSource for tiny synthetic models: every tensor drawn from a
// generator seeded by its name, so the model is the same in every test and
// every tensor differs. Norm weights (names holding "norm") are drawn around
// 1 with spread `norm_sd`, the others around 0 with spread `sd`.
#include <functional>
#include <random>
#include <string>

#include "sim/models/causal_lm.h"

namespace sqsim_test {

inline sqsim::WeightSource random_weights(float norm_sd, float sd) {
  sqsim::WeightSource s;
  s.has = [](const std::string&) { return true; };
  s.load = [norm_sd, sd](const std::string& name, long rows, long cols) {
    std::mt19937 rng(unsigned(std::hash<std::string>()(name)));
    const bool norm = name.find("norm") != std::string::npos;
    std::normal_distribution<float> d(norm ? 1.0f : 0.0f, norm ? norm_sd : sd);
    sqsim::MatrixF m(rows, cols);
    for (long i = 0; i < m.size(); ++i) m.data()[i] = d(rng);
    return m;
  };
  return s;
}

}  // namespace sqsim_test
