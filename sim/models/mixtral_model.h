#pragma once
// Mixtral-style sparse mixture of experts (model_type "mixtral"), as Hugging
// Face's MixtralForCausalLM computes it: Llama attention (RMSNorm, GQA,
// rotate-half RoPE), then per block, on h = RMSNorm(x):
//   p = softmax(router · h) over the E experts (float), the top k of p kept and
//   renormalised to sum 1 (Mixtral always does), and
//   x += sum over the chosen experts e of p_e · w2_e(silu(w1_e h) * w3_e h).
// Each expert's w1 (gate), w3 (up) and w2 (down) is its own swappable,
// quantizable LinearLayer named "model.layers.N.block_sparse_moe.experts.E.w1"
// etc.; an expert runs only on the rows routed to it. The router
// ("…block_sparse_moe.gate") is kept in float32 and is not a LinearLayer:
// quantizing it would change which experts run, a discrete error.
//
// Smoothing (docs/quantization.md, "Mixture of experts"): post_attention_layernorm
// feeds the router AND every expert's w1/w3, so dividing it by s multiplies
// the router's columns by s too (divide_norm does both). MoeSmoothStats picks
// the activation statistics the experts are smoothed with.
#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/models/causal_lm.h"
#include "sim/models/layer_table.h"
#include "sim/models/llama_model.h"

namespace sqsim {

struct MixtralConfig {
  LlamaConfig attn;  // everything but the MLP: sizes, heads, RoPE, eps, tied head; attn.ffn = intermediate_size
  int n_experts = 0;  // num_local_experts
  int top_k = 0;      // num_experts_per_tok, 1..n_experts

  // LlamaConfig::validate, then the experts; throws naming `what` and the key.
  void validate(const std::string& what);
};

// Which activation statistics smooth the experts' w1/w3:
//  kAll (default): one s per block over every token (the maximum of the
//    experts' routed statistics is the norm's output statistics, since every
//    token reaches some expert) and the joint weight absmax of every expert,
//    folded into post_attention_layernorm with the router compensated. No
//    run-time cost, and the float model is unchanged.
//  kRouted: each expert its own s_e from the tokens routed to it and its own
//    w1/w3; the shared norm cannot hold E different factors, so each expert's
//    input is divided by s_e at run time (the smoothing group's "norm" is the
//    expert's input divisor, "…experts.E.input_scale"). The router is untouched.
enum class MoeSmoothStats { kAll, kRouted };

struct MixtralExpert {
  std::unique_ptr<LinearLayer> w1, w3, w2;  // gate [ffn x hidden], up [ffn x hidden], down [hidden x ffn]
  VectorF input_divisor;                    // kRouted smoothing: the input is divided by it (empty: none)
};

struct MixtralBlock {
  NormWeights attn_norm, ffn_norm;          // RMSNorm [hidden]
  std::unique_ptr<LinearLayer> q, k, v, o;  // as Llama's
  MatrixF router;                           // [n_experts x hidden], float32
  std::vector<MixtralExpert> experts;
};

class MixtralModel : public TableModel<MixtralBlock> {
 public:
  // Tensors by HF name: the per-expert layout save_pretrained writes
  // ("model.layers.N.block_sparse_moe.experts.E.w1.weight", "…gate.weight").
  static MixtralModel from_weights(const MixtralConfig& cfg, const WeightSource& src);

  const MixtralConfig& config() const { return cfg_; }
  std::string architecture() const override { return "mixtral"; }
  int vocab_size() const override { return cfg_.attn.vocab; }
  MatrixF forward(const std::vector<int32_t>& tokens) const override;
  // The final norm's output for the rows whose logits forward_windows() gives.
  MatrixF hidden_windows(const std::vector<Window>& windows) const override;

  // Per block: q, k, v, o, then each expert's w1, w3, w2; lm_head last.
  std::vector<std::string> linear_names() const override;
  const LinearLayer& linear(const std::string& n) const override;
  std::unique_ptr<LinearLayer> replace_linear(const std::string& n, std::unique_ptr<LinearLayer> layer) override;
  // Per block: input_layernorm -> q, k, v; then (kAll) post_attention_layernorm
  // -> every expert's w1, w3, or (kRouted) each expert's input_scale -> its w1, w3.
  std::vector<SmoothGroup> smooth_groups() const override;
  // post_attention_layernorm: its weight divided, the router's columns
  // multiplied (the router sees the same logits); an expert's input_scale:
  // its run-time divisor multiplied by the divisor.
  void divide_norm(const std::string& n, const VectorF& divisor) override;
  VectorF norm_weight(const std::string& n) const override;

  void set_smooth_stats(MoeSmoothStats s) { smooth_stats_ = s; }
  MoeSmoothStats smooth_stats() const { return smooth_stats_; }

  // The experts chosen for each token, per block: [layer][t * top_k + slot]
  // (a forward over `tokens`).
  std::vector<std::vector<int>> routing(const std::vector<int32_t>& tokens) const;
  const MatrixF& router(int layer) const { return blocks_.at(size_t(layer)).router; }
  // For tests: replaces block `layer`'s router weights (same shape).
  void set_router(int layer, const MatrixF& w);

  MixtralModel();
  MixtralModel(MixtralModel&&) = default;
  MixtralModel& operator=(MixtralModel&&) = default;

 private:
  MatrixF run(const std::vector<Window>& windows, std::vector<std::vector<int>>* routes) const;
  MatrixF moe(const MixtralBlock& b, const MatrixF& h, std::vector<int>* route) const;
  // The expert layer named n, or null when n names none.
  std::unique_ptr<LinearLayer>* expert_slot(const std::string& n);
  // "model.layers.L.block_sparse_moe.experts.E.<rest>" -> {L, E} with *rest, or {-1, -1}.
  std::pair<int, int> expert_of(const std::string& n, std::string* rest) const;

  MixtralConfig cfg_;
  MoeSmoothStats smooth_stats_ = MoeSmoothStats::kAll;
};

}  // namespace sqsim
