#pragma once
// A model family's weights written once, as a table: llama2.c's weights
// struct with one row per weight. Each row gives a block's norm or linear
// layer with its Hugging Face and GGUF names, its shape in config sizes, the
// member of the family's block struct that holds it and, for a linear layer,
// the norm whose output it reads (its SmoothQuant group). The table drives
// loading, the GGUF names, linear_names(), the swappable slots, smooth_groups()
// and divide_norm() (TableModel below), so that a family is a table, a config
// and a forward (sim/models/llama_model.cpp, opt_model.cpp).
//
// The order of the rows is the model's order: layers are loaded, listed,
// quantized and smoothed in it, and results depend on it.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/str.h"
#include "base/tensor.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/causal_lm.h"
#include "sim/models/linear_layer.h"

namespace sqsim {

// A norm's weights: RMSNorm has only `weight` (bias empty), LayerNorm both.
struct NormWeights {
  VectorF weight, bias;
};

// The sizes a weight dimension can have; BlockDims gives their values for one config.
enum class Dim {
  kHidden,  // embedding width
  kQ,       // n_heads * head_dim
  kKv,      // n_kv_heads * head_dim (kQ without GQA)
  kFfn,     // feed-forward width
  kHead,    // head_dim (per-head norms: Qwen3's q_norm, k_norm)
  kQkv,     // q + 2 kv: a fused q/k/v projection (Phi-3's qkv_proj)
  kFfn2,    // 2 ffn: a fused gate/up projection (Phi-3's gate_up_proj)
};
// (head is last so that the four-size initializers of older families still compile.)
struct BlockDims {
  long hidden = 0, q = 0, kv = 0, ffn = 0, head = 0;
  long operator[](Dim d) const {
    switch (d) {
      case Dim::kHidden: return hidden;
      case Dim::kQ: return q;
      case Dim::kKv: return kv;
      case Dim::kFfn: return ffn;
      case Dim::kHead: return head;
      case Dim::kQkv: return q + 2 * kv;
      case Dim::kFfn2: return 2 * ffn;
    }
    return 0;
  }
};

template <class Block>
struct NormSlot {
  const char* name;  // HF module path inside the block: "input_layernorm"
  const char* gguf;  // GGUF tensor inside the block: "attn_norm"
  NormWeights Block::*weights;
  Dim size;
};

template <class Block>
struct LinearSlot {
  const char* name;  // HF module path inside the block: "self_attn.q_proj"
  const char* gguf;  // GGUF tensor inside the block: "attn_q"
  std::unique_ptr<LinearLayer> Block::*layer;
  Dim out, in;                  // weight [out x in], nn.Linear layout
  NormWeights Block::*reads;    // the norm whose output is its input, or nullptr
  bool bias = false;            // has a bias even where the table's `biases` is false (Qwen2's q, k, v)
};

// A weight outside the blocks: HF module path and GGUF tensor name.
struct TensorSlot {
  const char* name;  // "model.embed_tokens"
  const char* gguf;  // "token_embd"
};

// A fixed array seen as a range.
template <class T>
struct Slots {
  const T* first = nullptr;
  size_t size = 0;
  constexpr Slots() = default;
  template <size_t N>
  constexpr Slots(const T (&a)[N]) : first(a), size(N) {}  // NOLINT: implicit on purpose
  const T* begin() const { return first; }
  const T* end() const { return first + size; }
};

template <class Block>
struct LayerTable {
  const char* arch;    // "llama": the GGUF metadata prefix, named in errors
  const char* blocks;  // HF prefix of the blocks: block l is blocks + l + "."
  Slots<NormSlot<Block>> norms;      // per block, loaded in this order before the linear layers
  Slots<LinearSlot<Block>> linears;  // per block, in forward order
  TensorSlot embed;                  // token embeddings [vocab x hidden]
  TensorSlot final_norm;             // [hidden]
  TensorSlot head;                   // LM head [vocab x hidden]
  Slots<TensorSlot> extra;           // other whole-model weights (OPT's position table)
  bool biases;                       // linear layers and norms have biases
};

// ---- names (non-template parts in layer_table.cpp) ----

// "<prefix>12.rest" -> 12, with *rest = "rest", when 12 < n_layers (at most 5
// digits); else -1. prefix is e.g. "model.layers." or "blk.".
int block_index(const std::string& name, const std::string& prefix, int n_layers, std::string* rest);
// "x.weight" -> {"x", ".weight"}, likewise ".bias"; {name, ""} for any other name.
std::pair<std::string, std::string> split_weight_suffix(const std::string& name);

// HF tensor name (module path + ".weight" / ".bias") -> GGUF tensor name, by
// the table; "" for a name outside it.
template <class Block>
std::string gguf_tensor_name(const LayerTable<Block>& t, const std::string& hf_tensor) {
  const auto [module, suffix] = split_weight_suffix(hf_tensor);
  if (suffix.empty()) return "";
  for (const TensorSlot& s : {t.embed, t.final_norm, t.head})
    if (module == s.name) return s.gguf + suffix;
  for (const TensorSlot& s : t.extra)
    if (module == s.name) return s.gguf + suffix;
  std::string rest;
  const int l = block_index(module, t.blocks, 1 << 20, &rest);
  if (l < 0) return "";
  for (const NormSlot<Block>& s : t.norms)
    if (rest == s.name) return str("blk.", l, ".", s.gguf, suffix);
  for (const LinearSlot<Block>& s : t.linears)
    if (rest == s.name) return str("blk.", l, ".", s.gguf, suffix);
  return "";
}

// GGUF tensor name -> HF tensor name, by the table. ".bias" is known only for
// norms and linear layers of a family with biases, and for linear slots with
// their own `bias`; throws sqsim::Error on a
// name outside the table.
template <class Block>
std::string hf_tensor_name(const LayerTable<Block>& t, const std::string& gguf_tensor) {
  const auto [module, suffix] = split_weight_suffix(gguf_tensor);
  const bool weight = suffix == ".weight", bias_ok = suffix == ".bias" && t.biases;
  if (weight || bias_ok || suffix == ".bias") {
    if (module == t.final_norm.gguf && (weight || bias_ok)) return t.final_norm.name + suffix;
    if (weight) {
      for (const TensorSlot& s : {t.embed, t.head})
        if (module == s.gguf) return s.name + suffix;
      for (const TensorSlot& s : t.extra)
        if (module == s.gguf) return s.name + suffix;
    }
    std::string rest;
    const int l = block_index(module, "blk.", 1 << 20, &rest);
    if (l >= 0) {
      for (const NormSlot<Block>& s : t.norms)
        if (rest == s.gguf && (weight || bias_ok)) return str(t.blocks, l, ".", s.name, suffix);
      for (const LinearSlot<Block>& s : t.linears)
        if (rest == s.gguf && (weight || bias_ok || s.bias)) return str(t.blocks, l, ".", s.name, suffix);
    }
  }
  throw Error(str("unknown ", t.arch, " GGUF tensor name '", gguf_tensor, "'"));
}

// A float layer of the weight `name` [rows x cols]: kept in its checkpoint's
// 2-byte type when the source offers it so (WeightSource::load_half), else
// float32.
inline std::unique_ptr<FloatLinear> load_float_linear(const WeightSource& src, const std::string& name, long rows,
                                                      long cols, VectorF bias = {}) {
  if (std::shared_ptr<const HalfMatrix> h = src.load_half ? src.load_half(name, rows, cols) : nullptr)
    return std::make_unique<FloatLinear>(std::move(h), std::move(bias));
  return std::make_unique<FloatLinear>(src.load(name, rows, cols), std::move(bias));
}

// ---- the model interface, from the table ----

// The part of CausalLm that the table decides: blocks, embeddings, final norm
// and head, their names, slots and smoothing groups. A family adds its config
// and its forward.
template <class Block>
class TableModel : public CausalLm {
 public:
  int num_layers() const override { return int(blocks_.size()); }

  // For each block, the table's linear layers; then lm_head.
  std::vector<std::string> linear_names() const override {
    std::vector<std::string> out;
    for (size_t l = 0; l < blocks_.size(); ++l)
      for (const LinearSlot<Block>& s : table_->linears) out.push_back(str(table_->blocks, l, ".", s.name));
    out.push_back("lm_head");
    return out;
  }
  const LinearLayer& linear(const std::string& n) const override {
    return *const_cast<TableModel*>(this)->linear_slot(n);
  }
  std::unique_ptr<LinearLayer> replace_linear(const std::string& n, std::unique_ptr<LinearLayer> layer) override {
    return swap_linear(linear_slot(n), std::move(layer), n);
  }
  // For each block, each norm with the linear layers that read it (table order).
  std::vector<SmoothGroup> smooth_groups() const override {
    std::vector<SmoothGroup> out;
    for (size_t l = 0; l < blocks_.size(); ++l) {
      const std::string p = str(table_->blocks, l, ".");
      for (const NormSlot<Block>& n : table_->norms) {
        SmoothGroup g{p + n.name, {}};
        for (const LinearSlot<Block>& s : table_->linears)
          if (s.reads == n.weights) g.layers.push_back(p + s.name);
        if (!g.layers.empty()) out.push_back(std::move(g));
      }
    }
    return out;
  }
  // Divides the norm's weight, and its bias when it has one.
  void divide_norm(const std::string& n, const VectorF& divisor) override {
    NormWeights& w = norm_slot(n);
    if (divisor.size() != w.weight.size())
      throw Error(str("divide_norm ", n, ": divisor has ", divisor.size(), " entries, norm has ", w.weight.size()));
    w.weight.array() /= divisor.array();
    if (w.bias.size()) w.bias.array() /= divisor.array();
  }

  VectorF norm_weight(const std::string& n) const override {
    return const_cast<TableModel*>(this)->norm_slot(n).weight;
  }

  // The forward of every family: its hidden_windows(), then the head.
  MatrixF forward_windows(const std::vector<Window>& windows) const override {
    return project_rows(hidden_windows(windows));
  }
  MatrixF project_rows(const MatrixF& hidden) const override { return lm_head_->forward(hidden); }
  bool head_rows_independent() const override { return lm_head_->rows_independent(); }

  TableModel(TableModel&&) = default;
  TableModel& operator=(TableModel&&) = default;

 protected:
  explicit TableModel(const LayerTable<Block>& table) : table_(&table) {}

  static std::string weight_of(const TensorSlot& s) { return std::string(s.name) + ".weight"; }

  // The token embeddings [vocab x hidden].
  void load_embeddings(const WeightSource& src, const BlockDims& d, long vocab) {
    const std::string name = weight_of(table_->embed);
    if (auto h = src.load_half ? src.load_half(name, vocab, d.hidden) : nullptr) embed_ = TokenEmbeddings(std::move(h));
    else embed_ = src.load(name, vocab, d.hidden);
  }
  // n_layers blocks (each: its norms, then its linear layers, in table
  // order), then the final norm.
  void load_blocks(const WeightSource& src, const BlockDims& d, int n_layers) {
    blocks_.resize(size_t(n_layers));
    for (int l = 0; l < n_layers; ++l) {
      const std::string p = str(table_->blocks, l, ".");
      Block& b = blocks_[size_t(l)];
      for (const NormSlot<Block>& s : table_->norms) b.*s.weights = load_norm(src, p + s.name, d[s.size]);
      for (const LinearSlot<Block>& s : table_->linears) {
        VectorF bias = table_->biases || s.bias ? load_vector(src, p + s.name + ".bias", d[s.out]) : VectorF();
        b.*s.layer = load_float_linear(src, p + s.name + ".weight", d[s.out], d[s.in], std::move(bias));
      }
    }
    final_norm_ = load_norm(src, table_->final_norm.name, d.hidden);
  }
  // The LM head's own weights, or the embeddings when `tied` or absent.
  void load_head(const WeightSource& src, const BlockDims& d, long vocab, bool tied) {
    const std::string name = weight_of(table_->head);
    const bool own = !tied && src.has(name);
    if (own) {
      lm_head_ = load_float_linear(src, name, vocab, d.hidden);
    } else {  // tied: 2-byte words shared with the embeddings, a float32 table copied
      lm_head_ = embed_.half() ? std::make_unique<FloatLinear>(embed_.half())
                               : std::make_unique<FloatLinear>(embed_.plain());
    }
  }

  const LayerTable<Block>* table_;
  TokenEmbeddings embed_;  // [vocab, hidden]
  std::vector<Block> blocks_;
  NormWeights final_norm_;
  std::unique_ptr<LinearLayer> lm_head_;

 private:
  static VectorF load_vector(const WeightSource& src, const std::string& name, long n) {
    const MatrixF w = src.load(name, 1, n);
    return VectorF(Eigen::Map<const VectorF>(w.data(), n));
  }
  NormWeights load_norm(const WeightSource& src, const std::string& module, long n) const {
    NormWeights w;
    w.weight = load_vector(src, module + ".weight", n);
    if (table_->biases) w.bias = load_vector(src, module + ".bias", n);
    return w;
  }
  std::unique_ptr<LinearLayer>& linear_slot(const std::string& n) {
    if (n == "lm_head") return lm_head_;
    std::string rest;
    const int l = block_index(n, table_->blocks, num_layers(), &rest);
    if (l >= 0)
      for (const LinearSlot<Block>& s : table_->linears)
        if (rest == s.name) return blocks_[size_t(l)].*s.layer;
    throw Error(str("no linear layer named '", n, "' (expected e.g. ", table_->blocks, "0.",
                    table_->linears.first[0].name, " or lm_head)"));
  }
  NormWeights& norm_slot(const std::string& n) {
    if (n == table_->final_norm.name) return final_norm_;
    std::string rest;
    const int l = block_index(n, table_->blocks, num_layers(), &rest);
    if (l >= 0)
      for (const NormSlot<Block>& s : table_->norms)
        if (rest == s.name) return blocks_[size_t(l)].*s.weights;
    throw Error(str("no norm named '", n, "' (expected e.g. ", table_->blocks, "0.", table_->norms.first[0].name,
                    " or ", table_->final_norm.name, ")"));
  }
};

// Weights from a GGUF file by HF name, the GGUF name given by `table`: each
// tensor's dims are checked against [rows x cols] before it is read, and a
// missing or misshapen tensor is refused naming the file, the tensor and the
// expected shape.
WeightSource gguf_weight_source(const GgufFile& g, const std::string& arch,
                                std::function<std::string(const std::string& hf_tensor)> gguf_name);
template <class Block>
WeightSource gguf_weight_source(const GgufFile& g, const LayerTable<Block>& table) {
  return gguf_weight_source(g, table.arch, [&table](const std::string& hf) { return gguf_tensor_name(table, hf); });
}

}  // namespace sqsim
