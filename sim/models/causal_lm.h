#pragma once
// What every decoder-only model offers the rest of sqsim: a forward pass over
// one window, its linear layers by Hugging Face module path (swappable, so
// quantized layers can be put in), the attention-matmul hooks, and the
// norm -> linear layers mapping that SmoothQuant folds its factors into.
// Loading a model file: sim/models/load_model.h; perplexity:
// sim/eval/perplexity.h.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/models/attention.h"
#include "sim/models/linear_layer.h"

namespace sqsim {

// Linear layers that read the output of one norm (so share one input and one
// smoothing vector): Llama input_layernorm -> q, k, v; OPT
// final_layer_norm -> fc1. `norm` is the norm's HF module path.
struct SmoothGroup {
  std::string norm;
  std::vector<std::string> layers;
};

// Where a model's shared construction (LlamaModel / OptModel::from_weights)
// gets its weights: tensors by Hugging Face name (e.g.
// "model.layers.0.self_attn.q_proj.weight", "lm_head.weight"), checked by the
// source against [rows x cols] (rows = out, 1 for a vector), so that a loader
// (GGUF, safetensors) can name its own file and tensor in errors.
struct WeightSource {
  std::function<MatrixF(const std::string& hf_tensor, long rows, long cols)> load;
  std::function<bool(const std::string& hf_tensor)> has;
};

class CausalLm {
 public:
  virtual ~CausalLm() = default;

  virtual std::string architecture() const = 0;  // "llama", "opt"
  virtual int vocab_size() const = 0;
  virtual int num_layers() const = 0;            // transformer blocks

  // Logits [T, vocab] for a window of T tokens (positions 0..T-1).
  virtual MatrixF forward(const std::vector<int32_t>& tokens) const = 0;

  // HF module paths of every linear layer, in forward order (lm_head last).
  virtual std::vector<std::string> linear_names() const = 0;
  virtual const LinearLayer& linear(const std::string& hf_name) const = 0;
  // Puts `layer` in place of the named one (in/out features must match) and
  // returns the one it replaced, so wrappers can delegate to it.
  virtual std::unique_ptr<LinearLayer> replace_linear(const std::string& hf_name,
                                                      std::unique_ptr<LinearLayer> layer) = 0;
  void set_linear(const std::string& hf_name, std::unique_ptr<LinearLayer> layer) {
    replace_linear(hf_name, std::move(layer));
  }

  // Norms whose output feeds linear layers directly, in forward order.
  virtual std::vector<SmoothGroup> smooth_groups() const = 0;
  // Divides the named norm's weight (and bias, where it has one) by
  // divisor[c] per channel: how a smoothing vector is folded into the norm.
  virtual void divide_norm(const std::string& norm_name, const VectorF& divisor) = 0;

  AttentionMatmuls attention_matmuls;

 protected:
  // replace_linear's common part: checks `layer` against what `slot` holds
  // (naming `name`), swaps it in and returns the old layer.
  static std::unique_ptr<LinearLayer> swap_linear(std::unique_ptr<LinearLayer>& slot,
                                                  std::unique_ptr<LinearLayer> layer, const std::string& name);
};

}  // namespace sqsim
