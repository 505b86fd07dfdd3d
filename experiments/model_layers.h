#pragma once
// A model's float linear layer by name, for the commands that read weights.
#include <string>

#include "sim/models/causal_lm.h"

namespace sqsim::cli {

// The layer `name` of `model` as a FloatLinear; sqsim::Error "NAME: not a
// float layer" when it has been quantized.
const FloatLinear& float_linear(const CausalLm& model, const std::string& name);

}  // namespace sqsim::cli
