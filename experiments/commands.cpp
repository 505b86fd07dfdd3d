#include "experiments/commands.h"

namespace sqsim::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"info", "versions, CPU features and the integer GEMM paths this machine runs", run_info},
      {"layer-error", "quantize one synthetic linear layer with planted outlier channels and report its error",
       run_layer_error},
  };
  return table;
}

}  // namespace sqsim::cli
