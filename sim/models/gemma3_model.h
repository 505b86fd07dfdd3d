#pragma once
// Gemma 3, text only (Hugging Face Gemma3ForCausalLM, model_type "gemma3_text";
// GGUF architecture "gemma3"): a Llama-shaped block with
//  * embeddings multiplied by sqrt(hidden), rounded as transformers rounds it:
//    to the checkpoint's dtype (config.json "dtype"/"torch_dtype": bfloat16
//    gives 25.25 for 270M's sqrt(640) = 25.298), float32 for GGUF (llama.cpp);
//  * RMSNorms whose gain is (1 + w): four per block (input, post-attention,
//    pre- and post-feed-forward), the post-norms applied to each sub-layer's
//    output before the residual add;
//  * per-head RMSNorm on q and k (q_norm, k_norm) before RoPE;
//  * GeGLU: down(gelu_tanh(gate(h)) * up(h));
//  * attention scores scaled by query_pre_attn_scalar^-1/2, optional
//    soft-capping of scores and of the final logits;
//  * interleaved local layers (sliding window, RoPE base rope_local_base_freq)
//    and global layers (full causal attention, rope_theta, optionally linear
//    rope scaling), per config.json's layer_types.
//
// Norm gains are held as g = 1 + w, the form llama.cpp's converter writes to
// GGUF (it adds 1 to every norm weight), so a Hugging Face checkpoint's w gets
// 1 added in float32 when loaded (the sum HF computes in every forward) and
// smoothing divides g as it divides a Llama norm (docs/quantization.md,
// "Gemma 3"). Neither format permutes the Q/K rows: RoPE rotates halves.
#include <cstdint>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/layer_table.h"

namespace sqsim {

class JsonValue;

struct Gemma3Config {
  int n_layers = 0;
  int hidden = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;  // explicit: n_heads * head_dim need not be hidden
  int ffn = 0;
  int vocab = 0;
  int context = 0;  // informational
  float rms_eps = 1e-6f;
  float query_pre_attn_scalar = 256.0f;  // scores scaled by its -1/2 power
  float rope_global_base = 1000000.0f;   // rope_theta (full_attention layers)
  float rope_local_base = 10000.0f;      // rope_local_base_freq (sliding_attention layers)
  float rope_global_factor = 1.0f;       // linear rope scaling of the global layers (positions / factor)
  int sliding_window = 0;                // keys a local layer's query sees, itself included
  std::vector<bool> sliding;             // per layer: true = local (sliding window)
  float final_softcap = 0.0f;            // final_logit_softcapping; 0 = none
  float attn_softcap = 0.0f;             // attention score capping (Gemma 2's); 0 = none. Gemma 3 has none:
                                         // transformers ignores attn_logit_softcapping, sqsim refuses it
  float normalizer = 0.0f;               // the embedding multiplier; 0: sqrt(hidden) in float32
  bool tied_embeddings = true;

  // Throws sqsim::Error naming `what` unless sizes are positive and
  // consistent (n_heads a multiple of n_kv_heads, even head_dim, one layer
  // type per layer, a window when a layer slides).
  void validate(const std::string& what) const;

  // From "gemma3.*" metadata. llama.cpp's GGUF has neither the local RoPE
  // base nor the layer pattern: like llama.cpp, every 6th layer is global and
  // the local base is 10000; query_pre_attn_scalar = head_dim.
  static Gemma3Config from_gguf(const GgufFile& g);
  // From config.json (model_type "gemma3_text", or "gemma3" whose
  // text_config is read); unsupported keys refused naming `what` and the key.
  static Gemma3Config from_hf(const JsonValue& cfg, const std::string& what);
};

// One block; kGemma3Layers (gemma3_model.cpp) lists its table rows. Norm
// weights hold the gain 1 + w.
struct Gemma3Block {
  NormWeights attn_norm, post_attn_norm, ffn_norm, post_ffn_norm;  // [hidden]
  VectorF q_norm, k_norm;                                           // [head_dim], per head, not smoothing groups
  std::unique_ptr<LinearLayer> q, k, v, o;                          // [q|kv|kv x hidden], o [hidden x q]
  std::unique_ptr<LinearLayer> gate, up, down;                      // [ffn x hidden] x2, down [hidden x ffn]
};

class Gemma3Model : public TableModel<Gemma3Block> {
 public:
  // How the source stores the norm weights: Hugging Face w, or GGUF's 1 + w.
  enum class NormForm { kHfOffset, kGain };

  static Gemma3Model from_weights(const Gemma3Config& cfg, const WeightSource& src, NormForm norms);
  static Gemma3Model load_gguf(const std::string& path);

  const Gemma3Config& config() const { return cfg_; }

  std::string architecture() const override { return "gemma3"; }
  int vocab_size() const override { return cfg_.vocab; }
  MatrixF forward(const std::vector<int32_t>& tokens) const override;
  // The final norm's output for the rows whose logits forward_windows() gives.
  MatrixF hidden_windows(const std::vector<Window>& windows) const override;
  // The LM head, then the optional soft-capping of the logits.
  MatrixF project_rows(const MatrixF& hidden) const override;
  // smooth_groups (input_layernorm -> q, k, v; pre_feedforward_layernorm ->
  // gate, up) and divide_norm come from the layer table.

  Gemma3Model();
  Gemma3Model(Gemma3Model&&) = default;
  Gemma3Model& operator=(Gemma3Model&&) = default;

 private:
  Gemma3Config cfg_;
};


// ---- pieces, exposed for tests ----
// g[i] <- gelu_tanh(g[i]) * u[i], gelu_tanh(z) = z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))).
void gelu_tanh_mul(float* g, const float* u, long n);
// RMSNorm of each head_dim-wide slice of each row, times w [head_dim].
void rms_norm_heads(MatrixF& x, int head_dim, const VectorF& w, float eps);

}  // namespace sqsim
