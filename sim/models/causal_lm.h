#pragma once
// What every decoder-only model offers the rest of sqsim: a forward pass over
// one window, its linear layers by Hugging Face module path (swappable, so
// quantized layers can be put in), the attention-matmul hooks, and the
// norm -> linear layers mapping that SmoothQuant folds its factors into.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/models/attention.h"
#include "sim/tokenizer/bpe_tokenizer.h"
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

// A model file or folder with its tokenizer.
struct LoadedModel {
  std::unique_ptr<CausalLm> model;
  std::unique_ptr<BpeTokenizer> tokenizer;
  std::optional<int32_t> bos;  // prepended to the text when the model asks for it
  std::string path;
};

// A GGUF file (llama architecture), or a Hugging Face checkpoint folder
// (config.json + safetensors + tokenizer.json; llama or opt; sim/models/hf_checkpoint.h).
LoadedModel load_model(const std::string& path);

// Tokenizes `text` the way the model's tokenizer does by default (BOS when asked).
std::vector<int32_t> tokenize_document(const LoadedModel& m, const std::string& text);

// ---- perplexity (mit-han-lab/smoothquant's protocol) ----

// Mean NLL (natural log) of predicting tokens[1..L-1] from logits rows 0..L-2,
// log-softmax in double.
double mean_next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens);

struct PerplexityResult {
  double ppl = 0;
  double mean_nll = 0;
  size_t tokens = 0;  // tokens the scored windows cover (windows * seq_len)
  size_t windows = 0;
  std::vector<double> window_nll;
};
// Non-overlapping windows of seq_len (remainder dropped; throws when there is
// no full window); ppl = exp(mean over windows of the window mean NLL).
// progress(i, windows, nll) is called after every window measured when given;
// it may throw to stop the run (for example on SIGINT). The first
// known_window_nll.size() windows are not run: their NLLs are taken from there
// (an interrupted run's journal), so a resumed run gives the same bits.
PerplexityResult perplexity(const CausalLm& m, const std::vector<int32_t>& ids, int seq_len,
                            const std::function<void(size_t, size_t, double)>& progress = {},
                            const std::vector<double>& known_window_nll = {});

// Reads a UTF-8 text file and normalizes CRLF to LF; throws naming the file.
std::string read_text_file(const std::string& path);

}  // namespace sqsim
