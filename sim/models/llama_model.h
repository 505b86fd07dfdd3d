#pragma once
// Llama-architecture transformer (SmolLM2) read from a GGUF file, dequantized to
// float32, with a plain forward pass over one window of tokens (no KV cache).
//
// Every linear layer goes through LinearLayer so that a quantized
// implementation can be swapped in per layer by its HF module path
// ("model.layers.0.self_attn.q_proj"); the two attention matmuls (Q·Kᵀ and P·V)
// go through AttentionMatmuls for the same reason.
//
// RoPE: llama.cpp's HF->GGUF converter permutes the rows of the Q and K weights
// so that rotating ADJACENT pairs (2i, 2i+1) reproduces HF's rotate-half RoPE;
// with GGUF weights RoPE is therefore applied on adjacent pairs. Hugging Face
// checkpoints keep the original row order and rotate halves (i, i + d/2):
// LlamaConfig::rope_style says which one the weights need.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/causal_lm.h"
#include "sim/models/layer_table.h"
#include "sim/models/rope_scaling.h"

namespace sqsim {

// How RoPE pairs the dimensions of a head.
enum class RopeStyle {
  Adjacent,  // (2i, 2i+1): GGUF (llama.cpp's converter permuted Q/K rows)
  Half,      // (i, i + d/2): Hugging Face "rotate_half"
};

// The Llama-like families share this config and forward; their differences
// are flags (docs/hf-checkpoints.md): Mistral a sliding window, Qwen2 q/k/v
// biases, Qwen3 per-head q/k RMSNorm and an explicit head_dim, Phi-3 fused
// qkv_proj and gate_up_proj; RoPE scaling for any of them.
struct LlamaConfig {
  std::string arch = "llama";  // the family: llama, mistral, qwen2, qwen3, phi3
  int n_layers = 0;
  int hidden = 0;      // embedding_length
  int n_heads = 0;
  int n_kv_heads = 0;  // GQA: n_heads is a multiple of it
  int head_dim = 0;    // hidden / n_heads unless given (Qwen3, Mistral-Nemo: explicit)
  int ffn = 0;         // feed_forward_length
  int vocab = 0;
  int context = 0;     // context_length (informational)
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  RopeStyle rope_style = RopeStyle::Adjacent;
  bool tied_embeddings = false;  // LM head is the embedding matrix
  RopeScaling rope_scaling;      // RoPE scaling variant (default: none)
  bool qkv_bias = false;         // Qwen2: q, k and v projections have biases
  bool qk_norm = false;          // Qwen3: RMSNorm over each head of q and k, before RoPE
  bool fused = false;            // Phi-3: one qkv_proj and one gate_up_proj
  // Sliding-window attention: a query sees its own and the W - 1 previous
  // positions (0: all). window_layers says which layers (empty: every layer).
  int sliding_window = 0;
  std::vector<bool> window_layers;

  // The window of layer l (0: none).
  int window_of(int l) const {
    return sliding_window > 0 && (window_layers.empty() || window_layers[size_t(l)]) ? sliding_window : 0;
  }

  // Throws sqsim::Error naming `what` unless the values are positive and
  // consistent (n_heads a multiple of n_kv_heads, even head_dim, hidden =
  // n_heads * head_dim when head_dim is not given); fills head_dim when 0.
  void validate(const std::string& what);

  // Reads "<arch>.block_count" etc.; throws sqsim::Error on missing keys or
  // inconsistent values (architecture must be "llama").
  static LlamaConfig from_gguf(const GgufFile& g);
};

// One transformer block's weights; kLlamaLayers (llama_model.cpp) lists them
// with their names and shapes.
struct LlamaBlock {
  NormWeights attn_norm, ffn_norm;                     // RMSNorm weights [hidden]
  std::unique_ptr<LinearLayer> q, k, v, o;             // [q|kv|kv x hidden], o [hidden x q]
  std::unique_ptr<LinearLayer> gate, up, down;         // [ffn x hidden] x2, down [hidden x ffn]
  NormWeights q_norm, k_norm;                          // Qwen3: [head_dim], shared by the heads
  std::unique_ptr<LinearLayer> qkv, gate_up;           // Phi-3: [q+2kv x hidden], [2 ffn x hidden] (q, k, v unused)
};

// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj" (also ffn_* ->
// mlp.*_proj, token_embd -> model.embed_tokens, output -> lm_head, norms),
// from Llama's layer table; the ".weight" suffix may be left out. Throws
// sqsim::Error on a name it does not know.
std::string gguf_to_hf_name(const std::string& gguf_name);

// Llama tensors come from a WeightSource (sim/models/causal_lm.h) by HF name, e.g.
// "model.layers.0.self_attn.q_proj.weight", "model.norm.weight".

struct RopeTable;

class LlamaModel : public TableModel<LlamaBlock> {
 public:
  // Builds the model from a validated config and a weight source (both the
  // GGUF and the Hugging Face loaders come through here). Without
  // lm_head.weight (or with cfg.tied_embeddings) the head reuses the embeddings.
  static LlamaModel from_weights(const LlamaConfig& cfg, const WeightSource& src);

  // Reads the whole model, dequantizing every weight to float32; validates
  // every shape against the config before reading it. Tied embeddings:
  // without output.weight the LM head reuses token_embd.weight.
  static LlamaModel load_gguf(const std::string& path);

  const LlamaConfig& config() const { return cfg_; }

  std::string architecture() const override { return cfg_.arch; }
  int vocab_size() const override { return cfg_.vocab; }
  MatrixF forward(const std::vector<int32_t>& tokens) const override;
  // The final norm's output for the rows whose logits forward_windows() gives.
  MatrixF hidden_windows(const std::vector<Window>& windows) const override;
  // linear_names, linear, replace_linear, divide_norm and smooth_groups
  // (input_layernorm -> q, k, v; post_attention_layernorm -> gate, up) come
  // from the layer table.

  // Block by block (CausalLm): the forward's own pieces.
  bool has_blocks() const override { return true; }
  MatrixF embed_windows(const std::vector<std::vector<int32_t>>& windows) const override;
  MatrixF forward_block(int l, const MatrixF& x, const std::vector<long>& sizes, BlockInputs* inputs = nullptr,
                        const LinearOverrides& use = {}) const override;
  MatrixF attention_module(int l, const MatrixF& xn, const std::vector<long>& sizes,
                           const LinearOverrides& use = {}) const override;
  MatrixF mlp_module(int l, const MatrixF& hn, const LinearOverrides& use = {}) const override;

  LlamaModel();
  LlamaModel(LlamaModel&&) = default;
  LlamaModel& operator=(LlamaModel&&) = default;

 private:
  // Block l's attention (without the residual) on xn, the rows laid out as
  // `rows`, RoPE angles from `rope_all` (rows from position 0); o_input
  // receives o_proj's input when given. mlp_part: the MLP on hn.
  MatrixF attention_part(int l, const StackedRows& rows, const RopeTable& rope_all, const MatrixF& xn,
                         const LinearOverrides& use, MatrixF* o_input) const;
  MatrixF mlp_part(int l, const MatrixF& hn, const LinearOverrides& use, MatrixF* down_input) const;
  // The RoPE table of a forward over `rows`.
  RopeTable rope_for(const StackedRows& rows) const;

  LlamaConfig cfg_;
};

// ---- pieces, exposed for tests ----
// Row-wise RMSNorm: x / sqrt(mean(x^2) + eps) * w.
MatrixF rms_norm(const MatrixF& x, const VectorF& w, float eps);
// In place: RMSNorm over each head_dim-wide head of each row, weight w [head_dim].
void head_rms_norm(MatrixF& x, const VectorF& w, int head_dim, float eps);
// In place on x [T, n_heads * head_dim], row t at position pos0 + t: within
// every head rotates adjacent pairs (2i, 2i+1) by pos * base^(-2i/head_dim).
void apply_rope_adjacent(MatrixF& x, int n_heads, int head_dim, float base, int pos0 = 0);
// Same, rotating halves: pairs (i, i + head_dim/2) as Hugging Face's rotate_half.
void apply_rope_half(MatrixF& x, int n_heads, int head_dim, float base, int pos0 = 0);
// cos/sin [rows, head_dim/2] of position pos0 + t and pair i, computed in
// double and rounded to float: computed once per forward, shared by all layers.
struct RopeTable {
  MatrixF cos, sin;
};
RopeTable rope_table(long rows, int head_dim, float base, int pos0 = 0);
// Rows 0..rows-1 from given frequencies, cos and sin times attention_factor.
RopeTable rope_table(long rows, const RopeFrequencies& f);
// Rotates x as `style` pairs the dimensions, with a precomputed table (at
// least x.rows() rows): the forward's one RoPE call.
void apply_rope(MatrixF& x, int n_heads, int head_dim, const RopeTable& table, RopeStyle style);
// The two styles with a precomputed table.
void apply_rope_adjacent(MatrixF& x, int n_heads, int head_dim, const RopeTable& table);
void apply_rope_half(MatrixF& x, int n_heads, int head_dim, const RopeTable& table);

}  // namespace sqsim
