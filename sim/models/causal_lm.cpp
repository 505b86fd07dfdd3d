#include "sim/models/causal_lm.h"

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

std::unique_ptr<LinearLayer> CausalLm::swap_linear(std::unique_ptr<LinearLayer>& s, std::unique_ptr<LinearLayer> layer,
                                                   const std::string& n) {
  if (!layer) throw Error("replace_linear " + n + ": null layer");
  if (layer->in_features() != s->in_features() || layer->out_features() != s->out_features())
    throw Error(str("replace_linear ", n, ": layer is ", layer->out_features(), "x", layer->in_features(),
                    ", expected ", s->out_features(), "x", s->in_features()));
  std::swap(s, layer);
  return layer;
}

}  // namespace sqsim
