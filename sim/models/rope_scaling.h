#pragma once
// RoPE frequencies with the scaling variants Hugging Face configs ship
// (rope_type "linear", "dynamic", "llama3", "yarn", "longrope"): each gives
// the inverse frequencies of a head's dimension pairs and an attention factor
// that multiplies cos and sin, as transformers' modeling_rope_utils computes
// them (docs/hf-checkpoints.md, "RoPE scaling"). Computed in double.
#include <string>
#include <vector>

#include "base/tensor.h"

namespace sqsim {

class JsonValue;

struct RopeScaling {
  std::string type = "default";  // default, linear, dynamic, llama3, yarn, longrope
  double factor = 1.0;           // linear, dynamic, llama3, yarn, longrope (0: max / original max)
  int max_positions = 0;         // max_position_embeddings (dynamic; yarn/longrope when factor is 0)
  int original_max = 0;          // original_max_position_embeddings (llama3, yarn, longrope)
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  double beta_fast = 32.0, beta_slow = 1.0;              // yarn
  double mscale = 0.0, mscale_all_dim = 0.0;             // yarn: attention factor from both, when both set
  bool truncate = true;                                   // yarn: floor/ceil the correction range
  double attention_factor = 0.0;                          // yarn, longrope: 0 = derived from factor
  std::vector<double> short_factor, long_factor;          // longrope: one per pair

  // True unless type is "default".
  bool scaled() const { return type != "default"; }
};

// Inverse frequencies of pairs 0..head_dim/2-1 and the factor on cos/sin, for
// a forward whose positions are 0..seq_len-1 ("dynamic" and "longrope" depend
// on it; the others do not).
struct RopeFrequencies {
  std::vector<double> inv_freq;
  double attention_factor = 1.0;
};
RopeFrequencies rope_frequencies(const RopeScaling& s, int head_dim, double base, long seq_len);

// The config.json object `key` ("rope_scaling" or "rope_parameters") as a
// RopeScaling: the type from "rope_type" (or the older "type"), then its
// keys. An unknown type, or a key of the wrong kind, is refused naming
// `what` and the key (`key`.rope_type). `aliases` maps older names (Phi-3's
// "su") to a type. max_positions is the config's max_position_embeddings.
RopeScaling rope_scaling_from_json(const JsonValue& r, const std::string& key, const std::string& what,
                                   int max_positions, const std::vector<std::pair<std::string, std::string>>& aliases = {});

}  // namespace sqsim
