#include "sim/eval/synthetic_traces.h"

#include "base/error.h"
#include "sim/eval/synthetic_layer.h"

namespace sqsim {

TraceFile make_synthetic_traces(const SyntheticTraceSpec& spec) {
  if (spec.blocks <= 0) throw Error("synthetic traces: blocks must be positive");
  TraceFile t;
  t.model = "synthetic-llama";
  uint64_t seed = spec.seed;
  for (int b = 0; b < spec.blocks; ++b) {
    const std::string prefix = "model.layers." + std::to_string(b) + ".";
    // One input per smooth group; each layer of the group gets its own weight.
    auto add_group = [&](const std::string& group, long in, std::initializer_list<std::pair<const char*, long>> layers,
                         int outliers) {
      SyntheticLayerSpec ls;
      ls.tokens = spec.tokens;
      ls.in_features = in;
      ls.out_features = 1;
      ls.outlier_channels = outliers;
      ls.outlier_scale = spec.outlier_scale;
      ls.seed = seed++;
      const MatrixF x = make_synthetic_layer(ls).x;
      for (const auto& [name, out] : layers) {
        SyntheticLayerSpec ws = ls;
        ws.tokens = 1;
        ws.out_features = out;
        ws.outlier_channels = 0;
        ws.seed = seed++;
        LayerTrace l;
        l.name = prefix + name;
        l.weight = make_synthetic_layer(ws).w;
        l.input = x;
        l.smooth_group = group.empty() ? "" : prefix + group;
        t.layers.push_back(std::move(l));
      }
    };
    add_group("qkv", spec.hidden,
              {{"self_attn.q_proj", spec.hidden}, {"self_attn.k_proj", spec.kv_dim}, {"self_attn.v_proj", spec.kv_dim}},
              spec.outlier_channels);
    add_group("", spec.hidden, {{"self_attn.o_proj", spec.hidden}}, 0);
    add_group("gate_up", spec.hidden, {{"mlp.gate_proj", spec.intermediate}, {"mlp.up_proj", spec.intermediate}},
              spec.outlier_channels);
    add_group("", spec.intermediate, {{"mlp.down_proj", spec.hidden}}, spec.outlier_channels / 2);
  }
  return t;
}

}  // namespace sqsim
