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
#include "sim/models/causal_lm.h"
#include "sim/formats/gguf_file.h"

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

struct LayerNormWeights {
  VectorF weight, bias;
};

struct OptBlock {
  LayerNormWeights attn_ln, ffn_ln;  // self_attn_layer_norm, final_layer_norm
  std::unique_ptr<LinearLayer> q, k, v, o, fc1, fc2;
};

// OPT tensors come from a WeightSource (sim/models/causal_lm.h) by canonical HF name,
// e.g. "model.decoder.layers.0.fc1.weight", "model.decoder.embed_positions.weight".

class OptModel : public CausalLm {
 public:
  // Without lm_head.weight the head reuses the token embeddings (OPT ties them).
  static OptModel from_weights(const OptConfig& cfg, const WeightSource& src);
  // A GGUF file with general.architecture "opt" (docs/gguf.md); tensors the
  // model does not use are ignored, missing or misshapen ones refused by name.
  static OptModel load_gguf(const std::string& path);

  const OptConfig& config() const { return cfg_; }
  std::string architecture() const override { return "opt"; }
  int vocab_size() const override { return cfg_.vocab; }
  int num_layers() const override { return cfg_.n_layers; }
  MatrixF forward(const std::vector<int32_t>& tokens) const override;
  std::vector<std::string> linear_names() const override;
  const LinearLayer& linear(const std::string& hf_name) const override;
  std::unique_ptr<LinearLayer> replace_linear(const std::string& hf_name,
                                              std::unique_ptr<LinearLayer> layer) override;
  // self_attn_layer_norm -> q, k, v; final_layer_norm (per block) -> fc1.
  std::vector<SmoothGroup> smooth_groups() const override;
  // Divides the LayerNorm's weight and bias.
  void divide_norm(const std::string& norm_name, const VectorF& divisor) override;

  OptModel() = default;
  OptModel(OptModel&&) = default;
  OptModel& operator=(OptModel&&) = default;

 private:
  std::unique_ptr<LinearLayer>& slot(const std::string& hf_name);
  LayerNormWeights& norm_slot(const std::string& hf_name);
  OptConfig cfg_;
  MatrixF embed_;      // [vocab, hidden]
  MatrixF positions_;  // [max_positions + 2, hidden]
  std::vector<OptBlock> blocks_;
  LayerNormWeights final_ln_;
  std::unique_ptr<LinearLayer> lm_head_;
};

// GGUF tensor name of an OPT file -> OPT's HF name ("blk.3.ffn_up.bias" ->
// "model.decoder.layers.3.fc1.bias", "output.weight" -> "lm_head.weight");
// throws on a name outside the OPT-in-GGUF table.
std::string opt_gguf_to_hf_name(const std::string& gguf_name);

// Row-wise LayerNorm: (x - mean) / sqrt(var + eps) * w + b (biased variance).
MatrixF layer_norm(const MatrixF& x, const VectorF& w, const VectorF& b, float eps);

}  // namespace sqsim
