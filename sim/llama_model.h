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
// with GGUF weights RoPE is therefore applied on adjacent pairs.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "quant/tensor.h"
#include "sim/bpe_tokenizer.h"
#include "sim/gguf_file.h"

namespace sqsim {

struct LlamaConfig {
  int n_layers = 0;
  int hidden = 0;      // embedding_length
  int n_heads = 0;
  int n_kv_heads = 0;  // GQA: n_heads is a multiple of it
  int head_dim = 0;    // hidden / n_heads
  int ffn = 0;         // feed_forward_length
  int vocab = 0;
  int context = 0;     // context_length (informational)
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;

  // Reads "<arch>.block_count" etc.; throws sqsim::Error on missing keys or
  // inconsistent values (architecture must be "llama").
  static LlamaConfig from_gguf(const GgufFile& g);
};

// One linear layer y = x Wᵀ (x: [tokens, in], y: [tokens, out]).
class LinearLayer {
 public:
  virtual ~LinearLayer() = default;
  virtual MatrixF forward(const MatrixF& x) const = 0;
  virtual int in_features() const = 0;
  virtual int out_features() const = 0;
};

// Float32 reference: Eigen x * W.transpose(); rows of x are split into fixed
// chunks run in parallel with TBB (results do not depend on the thread count).
class FloatLinear : public LinearLayer {
 public:
  explicit FloatLinear(MatrixF weight) : w_(std::move(weight)) {}
  MatrixF forward(const MatrixF& x) const override;
  int in_features() const override { return int(w_.cols()); }
  int out_features() const override { return int(w_.rows()); }
  const MatrixF& weight() const { return w_; }

 private:
  MatrixF w_;  // [out, in]
};

// Hook points for the attention matmuls of one (layer, head). Empty functions
// mean float32 Eigen products. qk gets q [T, d] and k [T, d] and returns the
// unscaled scores q kᵀ [T, T]; pv gets the probabilities p [T, T] and v [T, d]
// and returns p v [T, d].
struct AttentionMatmuls {
  std::function<MatrixF(int layer, int head, const MatrixF& q, const MatrixF& k)> qk;
  std::function<MatrixF(int layer, int head, const MatrixF& p, const MatrixF& v)> pv;
};

struct LlamaBlock {
  VectorF attn_norm, ffn_norm;
  std::unique_ptr<LinearLayer> q, k, v, o, gate, up, down;
};

// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj" (also ffn_* ->
// mlp.*_proj, token_embd -> model.embed_tokens, output -> lm_head, norms);
// throws sqsim::Error on a name it does not know.
std::string gguf_to_hf_name(const std::string& gguf_name);

class LlamaModel {
 public:
  // Reads the whole model, dequantizing every weight to float32; validates
  // every shape against the config. Tied embeddings: without output.weight the
  // LM head reuses token_embd.weight.
  static LlamaModel load_gguf(const std::string& path);

  const LlamaConfig& config() const { return cfg_; }
  // Logits [T, vocab] for a window of T tokens (positions 0..T-1).
  MatrixF forward(const std::vector<int32_t>& tokens) const;

  // HF module paths of every linear layer, in forward order (lm_head last).
  std::vector<std::string> linear_names() const;
  const LinearLayer& linear(const std::string& hf_name) const;
  // Replaces one linear layer; its in/out features must match.
  void set_linear(const std::string& hf_name, std::unique_ptr<LinearLayer> layer);

  AttentionMatmuls attention_matmuls;

  LlamaModel() = default;
  LlamaModel(LlamaModel&&) = default;
  LlamaModel& operator=(LlamaModel&&) = default;

 private:
  std::unique_ptr<LinearLayer>& slot(const std::string& hf_name);
  LlamaConfig cfg_;
  MatrixF embed_;  // [vocab, hidden]
  std::vector<LlamaBlock> blocks_;
  VectorF output_norm_;
  std::unique_ptr<LinearLayer> lm_head_;
};

// ---- pieces, exposed for tests ----
// Row-wise RMSNorm: x / sqrt(mean(x^2) + eps) * w.
MatrixF rms_norm(const MatrixF& x, const VectorF& w, float eps);
// In place on x [T, n_heads * head_dim], row t at position pos0 + t: within
// every head rotates adjacent pairs (2i, 2i+1) by pos * base^(-2i/head_dim).
void apply_rope_adjacent(MatrixF& x, int n_heads, int head_dim, float base, int pos0 = 0);
// Causal GQA attention: q [T, n_heads*d], k, v [T, n_kv_heads*d] -> [T, n_heads*d].
// Scores scaled by 1/sqrt(d), softmax in float; heads run in parallel.
MatrixF causal_attention(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int n_kv_heads,
                         int head_dim, const AttentionMatmuls& mm = {}, int layer = 0);

// Tokenizer from tokenizer.ggml.{tokens,merges,pre,token_type} (types 3 and 4 special).
BpeTokenizer tokenizer_from_gguf(const GgufFile& g);
// True when tokenizer.ggml.add_bos_token is present and true; then *bos is the BOS id.
bool gguf_adds_bos(const GgufFile& g, int32_t* bos);

// Mean NLL (natural log) of predicting tokens[1..L-1] from logits rows 0..L-2,
// log-softmax in double.
double mean_next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens);

struct PerplexityResult {
  double ppl = 0;
  double mean_nll = 0;
  size_t tokens = 0;   // tokens scored windows cover (windows * seq_len)
  size_t windows = 0;
  std::vector<double> window_nll;
};
// Non-overlapping windows of seq_len (remainder dropped; throws when there is
// no full window); ppl = exp(mean over windows of the window mean NLL).
// progress(i, windows, nll) is called after every window when given.
PerplexityResult perplexity(const LlamaModel& m, const std::vector<int32_t>& ids, int seq_len,
                            const std::function<void(size_t, size_t, double)>& progress = {});

}  // namespace sqsim
