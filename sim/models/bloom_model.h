#pragma once
// BLOOM-architecture transformer (bigscience/bloom-*), as Hugging Face's
// BloomForCausalLM computes it (apply_residual_connection_post_layernorm
// false): token embeddings, then a LayerNorm on them
// (word_embeddings_layernorm); per block
//   x += dense(attn(split(query_key_value(LN1(x)))))
//   x += dense_4h_to_h(gelu_tanh(dense_h_to_4h(LN2(x))))
// with ALiBi instead of positions (one slope per head, causal_attention), every
// LayerNorm and linear layer with a bias, a final LayerNorm (ln_f) and an LM
// head tied to the embeddings. query_key_value is ONE linear layer [3*hidden x
// hidden] whose output rows are laid out per head, [n_heads, 3, head_dim]
// (q, k, v of head 0, then of head 1, ...); the forward splits its output.
// docs/hf-checkpoints.md ("BLOOM") lists what is read and refused.
#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/causal_lm.h"
#include "sim/models/layer_table.h"

namespace sqsim {

struct BloomConfig {
  int n_layers = 0;
  int hidden = 0;
  int n_heads = 0;
  int head_dim = 0;  // hidden / n_heads
  int vocab = 0;
  float ln_eps = 1e-5f;  // layer_norm_epsilon

  // Throws naming `what` on non-positive or inconsistent values; fills head_dim.
  void validate(const std::string& what);
  // From the bloom.* keys of a GGUF file (docs/gguf.md, "BLOOM in GGUF");
  // the vocabulary from token_embd.weight's rows.
  static BloomConfig from_gguf(const GgufFile& g);
};

// One transformer block's weights; kBloomLayers (bloom_model.cpp) lists them
// with their names and shapes. Every norm and linear layer has a bias.
struct BloomBlock {
  NormWeights attn_ln, ffn_ln;                 // input_layernorm, post_attention_layernorm [hidden]
  std::unique_ptr<LinearLayer> qkv, dense;     // [3*hidden x hidden] (per-head rows), [hidden x hidden]
  std::unique_ptr<LinearLayer> fc1, fc2;       // dense_h_to_4h [4*hidden x hidden], dense_4h_to_h
};

// BLOOM's ALiBi slopes for n_heads (any count, not only powers of two):
// for the largest power of two p <= n, the geometric series b^1..b^p with
// b = 2^(-8/p), then the odd powers of 2^(-4/p) for the n - p heads left.
VectorF alibi_slopes(int n_heads);

// In place, x * 0.5 * (1 + tanh(0.79788456 x (1 + 0.044715 x^2))): BLOOM's
// GELU, with its rounded constants.
void bloom_gelu(MatrixF& h);

class BloomModel : public TableModel<BloomBlock> {
 public:
  // Tensors by HF name ("transformer.h.0.self_attention.query_key_value.weight");
  // the head is the token embeddings (BLOOM ties them) unless the source has
  // lm_head.weight.
  static BloomModel from_weights(const BloomConfig& cfg, const WeightSource& src);
  // A GGUF file with general.architecture "bloom", as llama.cpp's converter
  // writes it: attn_qkv's rows are [q; k; v] (each [n_heads, head_dim]), put
  // back into HF's per-head order on loading.
  static BloomModel load_gguf(const std::string& path);

  const BloomConfig& config() const { return cfg_; }
  std::string architecture() const override { return "bloom"; }
  int vocab_size() const override { return cfg_.vocab; }
  MatrixF forward(const std::vector<int32_t>& tokens) const override;
  // The final norm's output for the rows whose logits forward_windows() gives.
  MatrixF hidden_windows(const std::vector<Window>& windows) const override;
  // smooth_groups (from the table): input_layernorm -> query_key_value,
  // post_attention_layernorm -> dense_h_to_4h, as smoothquant's smooth.py
  // does for BLOOM. word_embeddings_layernorm feeds the residual stream, not
  // a linear layer, so it is in no group.

  BloomModel();
  BloomModel(BloomModel&&) = default;
  BloomModel& operator=(BloomModel&&) = default;

 private:
  BloomConfig cfg_;
  NormWeights embed_ln_;  // word_embeddings_layernorm [hidden]
  VectorF slopes_;        // ALiBi, one per head
};

// Rows of a fused qkv weight (or bias, cols = 1) from llama.cpp's [q; k; v]
// order to HF's per-head [n_heads, 3, head_dim] order.
MatrixF bloom_qkv_from_gguf_order(const MatrixF& w, int n_heads, int head_dim);

}  // namespace sqsim
