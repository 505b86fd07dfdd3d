#pragma once
// What every decoder-only model offers the rest of sqsim: a forward pass over
// one window, its linear layers by Hugging Face module path (swappable, so
// quantized layers can be put in), the attention-matmul hooks, and the
// norm -> linear layers mapping that SmoothQuant folds its factors into.
// Loading a model file: sim/models/load_model.h; perplexity:
// sim/eval/perplexity.h.
#include <cstdint>
#include <functional>
#include <map>
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
  // Optional: a matrix kept in its checkpoint's 2-byte type, checked like
  // `load`; null when the source keeps this tensor in float32 (its type is
  // F32, or the source's rule keeps float32: docs/memory.md). Linear layers
  // and embeddings built by the layer table ask it first.
  std::function<std::shared_ptr<const HalfMatrix>(const std::string& hf_tensor, long rows, long cols)> load_half;
};

class CausalLm {
 public:
  virtual ~CausalLm() = default;

  virtual std::string architecture() const = 0;  // "llama", "opt"
  virtual int vocab_size() const = 0;
  virtual int num_layers() const = 0;            // transformer blocks

  // Logits [T, vocab] for a window of T tokens (positions 0..T-1).
  virtual MatrixF forward(const std::vector<int32_t>& tokens) const = 0;

  // Several independent windows in one pass (docs/tasks.md, "Speed"): each
  // window has its own positions 0..T-1 and attends only to itself; only the
  // logits of rows first_logit_row..T-1 of each window are computed, stacked
  // in window order. A window with a `prefix` (an earlier window that has
  // none) continues it: its rows are positions P..P+T-1 after the prefix's P
  // tokens and attend to them too, which are computed once for every window
  // that continues them (the endings after one context). Llama and OPT run
  // the windows' rows through every linear layer together (GEMMs of sum(T)
  // rows) and attention window by window, so a window's logits have the bits
  // of forward() over its (prefix +) tokens whenever rows_independent() (and,
  // with prefixes, shares_prefixes()). This default runs forward() per window.
  struct Window {
    std::vector<int32_t> tokens;
    long first_logit_row = 0;
    long prefix = -1;  // index of an earlier window, or -1
  };
  virtual MatrixF forward_windows(const std::vector<Window>& windows) const;

  // forward_windows() in two steps, so that a caller that needs only some
  // numbers of each logits row (the NLL of the next token) never holds a
  // whole window's [T x vocab] logits (docs/memory.md):
  // hidden_windows() stops at the final norm and returns its output for the
  // rows forward_windows() gives logits of; project_rows() turns any rows of
  // it into their logits (the LM head; Gemma 3: soft-capping). A model
  // without the split (this default) returns the logits as its "hidden"
  // rows and projects by copying them.
  virtual MatrixF hidden_windows(const std::vector<Window>& windows) const { return forward_windows(windows); }
  virtual MatrixF project_rows(const MatrixF& hidden) const { return hidden; }
  // True when project_rows() of some rows gives the same bits as those rows
  // of project_rows() of all (a float or per-token quantized head); when
  // false, callers project every row at once.
  virtual bool head_rows_independent() const { return true; }
  // True when every linear layer computes each row from that row alone
  // (LinearLayer::rows_independent), so packing windows changes no bit.
  bool rows_independent() const;
  // True when windows may have prefixes with forward()'s bits: rows are
  // independent and attention is float (no hooks: a hook would see the
  // prefix's rows and the window's apart).
  bool shares_prefixes() const;

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
  // The named norm's weight (gamma), per channel.
  virtual VectorF norm_weight(const std::string& norm_name) const = 0;

  // ---- Block by block: what the weight searches need (docs/quantization.md,
  // "AWQ", "GPTQ on a whole model"). Windows are stacked as forward_windows
  // stacks them (no prefixes, each at positions 0..T-1, `sizes` their token
  // counts); the rows give forward()'s bits block by block. Llama-like
  // families implement them (has_blocks()); the default ones throw.
  // Layers named in `use` (HF module paths of block l) compute in place of
  // the model's own, for this call only (candidate weights of a search).
  using LinearOverrides = std::map<std::string, const LinearLayer*>;
  // The inputs of block l's linear layers: `attn` the attention's normalized
  // input (q/k/v read it), `o` o_proj's, `mlp` the MLP's normalized input
  // (gate/up), `down` down_proj's.
  struct BlockInputs {
    MatrixF attn, o, mlp, down;
  };
  virtual bool has_blocks() const { return false; }
  // The hidden states entering block 0, windows stacked.
  virtual MatrixF embed_windows(const std::vector<std::vector<int32_t>>& windows) const;
  // Block l's output for its input x; `inputs`, when given, receives its
  // linear layers' inputs.
  virtual MatrixF forward_block(int l, const MatrixF& x, const std::vector<long>& sizes, BlockInputs* inputs = nullptr,
                                const LinearOverrides& use = {}) const;
  // Block l's attention module (q/k/v, RoPE, attention, o_proj) on its
  // normalized input xn, without the residual; and its MLP on hn.
  virtual MatrixF attention_module(int l, const MatrixF& xn, const std::vector<long>& sizes,
                                   const LinearOverrides& use = {}) const;
  virtual MatrixF mlp_module(int l, const MatrixF& hn, const LinearOverrides& use = {}) const;

  AttentionMatmuls attention_matmuls;

 protected:
  // Where each window's rows sit when the windows are stacked: window w is
  // rows start[w] .. start[w] + size[w] - 1, at positions pos0[w].. (its
  // prefix's size, or 0).
  struct StackedRows {
    std::vector<long> start, size, pos0, prefix;
    long total = 0;    // rows of all windows
    long longest = 0;  // positions of the longest window, prefix included
  };
  // Checks every window (check_window, prefixes) and lays them out.
  static StackedRows stack_windows(const std::vector<Window>& windows, int vocab);
  // Windows of `sizes` rows, each from position 0 (the block-level calls).
  static StackedRows stack_sizes(const std::vector<long>& sizes);
  // Attention window by window: prepare(q, k, v, pos0) gets copies of one
  // window's rows of the stacked q, k, v at positions pos0.. (BMM hooks,
  // RoPE: in place); attend(q, k, v) gets them with the prefix's prepared
  // k and v in front and returns the window's attention output, put back at
  // the window's rows.
  static MatrixF attend_by_window(const StackedRows& rows, const MatrixF& q, const MatrixF& k, const MatrixF& v,
                                  const std::function<void(MatrixF& q, MatrixF& k, MatrixF& v, long pos0)>& prepare,
                                  const std::function<MatrixF(const MatrixF& q, const MatrixF& k, const MatrixF& v)>& attend);
  // The stacked rows whose logits the windows ask for, in window order.
  static MatrixF logit_rows(const MatrixF& x, const StackedRows& rows, const std::vector<Window>& windows);

  // Throws unless the window is non-empty, its tokens are in 0..vocab-1 and
  // first_logit_row is in 0..T.
  static void check_window(const Window& w, int vocab);
  // replace_linear's common part: checks `layer` against what `slot` holds
  // (naming `name`), swaps it in and returns the old layer.
  static std::unique_ptr<LinearLayer> swap_linear(std::unique_ptr<LinearLayer>& slot,
                                                  std::unique_ptr<LinearLayer> layer, const std::string& name);
};

}  // namespace sqsim
