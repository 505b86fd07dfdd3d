#pragma once
// OPT-architecture transformer (facebook/opt-*), as Hugging Face's
// OPTForCausalLM computes it with do_layer_norm_before = true: learned
// positional embeddings (position p reads row p + 2, OPT's offset), per block
// x += out_proj(attn(LN1(x))); x += fc2(relu(fc1(LN2(x)))), every linear layer
// with a bias, a final LayerNorm, and an LM head tied to the token embeddings.
// HF scales q by head_dim^-0.5 after q_proj; causal_attention scales the
// scores q·kᵀ by the same factor, which is the same product.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/causal_lm.h"
#include "sim/models/layer_table.h"

namespace sqsim {

struct OptConfig {
  int n_layers = 0;
  int hidden = 0;
  int n_heads = 0;
  int head_dim = 0;  // hidden / n_heads
  int ffn = 0;       // ffn_dim
  int vocab = 0;
  int max_positions = 0;  // max_position_embeddings; the table has 2 more rows
  float ln_eps = 1e-5f;   // nn.LayerNorm's default, which OPT uses

  // From the opt.* keys of a GGUF file (docs/gguf.md, "OPT in GGUF"). The
  // vocabulary is opt.vocab_size when present, else token_embd.weight's rows.
  // Throws naming the file and the key on a missing, mistyped or bad value.
  static OptConfig from_gguf(const GgufFile& g);

  // Throws naming `what` on non-positive or inconsistent values; fills head_dim.
  void validate(const std::string& what);
};

// One transformer block's weights; kOptLayers (opt_model.cpp) lists them with
// their names and shapes.
struct OptBlock {
  NormWeights attn_ln, ffn_ln;                   // self_attn_layer_norm, final_layer_norm [hidden]
  std::unique_ptr<LinearLayer> q, k, v, o;       // [hidden x hidden], with biases
  std::unique_ptr<LinearLayer> fc1, fc2;         // [ffn x hidden], [hidden x ffn], with biases
};

// OPT tensors come from a WeightSource (sim/models/causal_lm.h) by canonical HF name,
// e.g. "model.decoder.layers.0.fc1.weight", "model.decoder.embed_positions.weight".

class OptModel : public TableModel<OptBlock> {
 public:
  // Without lm_head.weight the head reuses the token embeddings (OPT ties them).
  static OptModel from_weights(const OptConfig& cfg, const WeightSource& src);
  // A GGUF file with general.architecture "opt" (docs/gguf.md); tensors the
  // model does not use are ignored, missing or misshapen ones refused by name.
  static OptModel load_gguf(const std::string& path);

  const OptConfig& config() const { return cfg_; }
  std::string architecture() const override { return "opt"; }
  int vocab_size() const override { return cfg_.vocab; }
  MatrixF forward(const std::vector<int32_t>& tokens) const override;
  // The final norm's output for the rows whose logits forward_windows() gives.
  MatrixF hidden_windows(const std::vector<Window>& windows) const override;
  // linear_names, linear, replace_linear, divide_norm (a LayerNorm's weight
  // and bias) and smooth_groups (self_attn_layer_norm -> q, k, v;
  // final_layer_norm (per block) -> fc1) come from the layer table.

  OptModel();
  OptModel(OptModel&&) = default;
  OptModel& operator=(OptModel&&) = default;

 private:
  OptConfig cfg_;
  MatrixF positions_;  // [max_positions + 2, hidden]
};

// GGUF tensor name of an OPT file -> OPT's HF name ("blk.3.ffn_up.bias" ->
// "model.decoder.layers.3.fc1.bias", "output.weight" -> "lm_head.weight"),
// from OPT's layer table; throws on a name outside it.
std::string opt_gguf_to_hf_name(const std::string& gguf_name);

// Row-wise LayerNorm: (x - mean) / sqrt(var + eps) * w + b (biased variance).
MatrixF layer_norm(const MatrixF& x, const VectorF& w, const VectorF& b, float eps);

}  // namespace sqsim
