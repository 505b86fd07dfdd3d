#include "experiments/model_layers.h"

#include "base/error.h"

namespace sqsim::cli {

const FloatLinear& float_linear(const CausalLm& model, const std::string& name) {
  const auto* f = dynamic_cast<const FloatLinear*>(&model.linear(name));
  if (!f) throw Error(name + ": not a float layer");
  return *f;
}

}  // namespace sqsim::cli
