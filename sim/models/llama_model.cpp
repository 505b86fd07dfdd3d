// Llama forward pass in the llama2.c spirit: the weights as one table, then
// the forward, read top to bottom; config, loading and the pieces follow.
#include "sim/models/llama_model.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>

#include "base/error.h"
#include "base/str.h"
#include "kernels/vecmath.h"

namespace sqsim {

// ---------------------------------------------------------------- weights

namespace {

// Per block, in forward order. Shapes in config sizes (BlockDims); GGUF names
// as llama.cpp's converter writes them ("blk.<l>.<gguf>.weight").
constexpr NormSlot<LlamaBlock> kLlamaNorms[] = {
    {"input_layernorm", "attn_norm", &LlamaBlock::attn_norm, Dim::kHidden},
    {"post_attention_layernorm", "ffn_norm", &LlamaBlock::ffn_norm, Dim::kHidden},
};
constexpr LinearSlot<LlamaBlock> kLlamaLinears[] = {
    // name               gguf           slot               out          in           reads the norm
    {"self_attn.q_proj", "attn_q", &LlamaBlock::q, Dim::kQ, Dim::kHidden, &LlamaBlock::attn_norm},
    {"self_attn.k_proj", "attn_k", &LlamaBlock::k, Dim::kKv, Dim::kHidden, &LlamaBlock::attn_norm},
    {"self_attn.v_proj", "attn_v", &LlamaBlock::v, Dim::kKv, Dim::kHidden, &LlamaBlock::attn_norm},
    {"self_attn.o_proj", "attn_output", &LlamaBlock::o, Dim::kHidden, Dim::kQ, nullptr},
    {"mlp.gate_proj", "ffn_gate", &LlamaBlock::gate, Dim::kFfn, Dim::kHidden, &LlamaBlock::ffn_norm},
    {"mlp.up_proj", "ffn_up", &LlamaBlock::up, Dim::kFfn, Dim::kHidden, &LlamaBlock::ffn_norm},
    {"mlp.down_proj", "ffn_down", &LlamaBlock::down, Dim::kHidden, Dim::kFfn, nullptr},
};
constexpr LayerTable<LlamaBlock> kLlamaLayers = {
    "llama",
    "model.layers.",
    kLlamaNorms,
    kLlamaLinears,
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
    {},
    /*biases=*/false,
};

// Qwen2: Llama with biases on q, k and v (not on o_proj).
constexpr LinearSlot<LlamaBlock> kQwen2Linears[] = {
    {"self_attn.q_proj", "attn_q", &LlamaBlock::q, Dim::kQ, Dim::kHidden, &LlamaBlock::attn_norm, true},
    {"self_attn.k_proj", "attn_k", &LlamaBlock::k, Dim::kKv, Dim::kHidden, &LlamaBlock::attn_norm, true},
    {"self_attn.v_proj", "attn_v", &LlamaBlock::v, Dim::kKv, Dim::kHidden, &LlamaBlock::attn_norm, true},
    {"self_attn.o_proj", "attn_output", &LlamaBlock::o, Dim::kHidden, Dim::kQ, nullptr},
    {"mlp.gate_proj", "ffn_gate", &LlamaBlock::gate, Dim::kFfn, Dim::kHidden, &LlamaBlock::ffn_norm},
    {"mlp.up_proj", "ffn_up", &LlamaBlock::up, Dim::kFfn, Dim::kHidden, &LlamaBlock::ffn_norm},
    {"mlp.down_proj", "ffn_down", &LlamaBlock::down, Dim::kHidden, Dim::kFfn, nullptr},
};
constexpr LayerTable<LlamaBlock> kQwen2Layers = {
    "qwen2",          "model.layers.", kLlamaNorms, kQwen2Linears, {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"}, {"lm_head", "output"}, {}, /*biases=*/false,
};

// Qwen3: Llama's layers plus a per-head RMSNorm on q and k (no linear layer
// reads them: they are not smoothing groups).
constexpr NormSlot<LlamaBlock> kQwen3Norms[] = {
    {"input_layernorm", "attn_norm", &LlamaBlock::attn_norm, Dim::kHidden},
    {"self_attn.q_norm", "attn_q_norm", &LlamaBlock::q_norm, Dim::kHead},
    {"self_attn.k_norm", "attn_k_norm", &LlamaBlock::k_norm, Dim::kHead},
    {"post_attention_layernorm", "ffn_norm", &LlamaBlock::ffn_norm, Dim::kHidden},
};
constexpr LayerTable<LlamaBlock> kQwen3Layers = {
    "qwen3",          "model.layers.", kQwen3Norms, kLlamaLinears, {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"}, {"lm_head", "output"}, {}, /*biases=*/false,
};

// Phi-3: one fused linear layer per norm, split by columns in the forward
// (q | k | v and gate | up), so each is one quantized weight as a kernel runs it.
constexpr LinearSlot<LlamaBlock> kPhi3Linears[] = {
    {"self_attn.qkv_proj", "attn_qkv", &LlamaBlock::qkv, Dim::kQkv, Dim::kHidden, &LlamaBlock::attn_norm},
    {"self_attn.o_proj", "attn_output", &LlamaBlock::o, Dim::kHidden, Dim::kQ, nullptr},
    {"mlp.gate_up_proj", "ffn_up", &LlamaBlock::gate_up, Dim::kFfn2, Dim::kHidden, &LlamaBlock::ffn_norm},
    {"mlp.down_proj", "ffn_down", &LlamaBlock::down, Dim::kHidden, Dim::kFfn, nullptr},
};
constexpr LayerTable<LlamaBlock> kPhi3Layers = {
    "phi3",           "model.layers.", kLlamaNorms, kPhi3Linears, {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"}, {"lm_head", "output"}, {}, /*biases=*/false,
};

// The table of a config's flags (Mistral's is Llama's).
const LayerTable<LlamaBlock>& table_of(const LlamaConfig& c) {
  if (c.fused) return kPhi3Layers;
  if (c.qk_norm) return kQwen3Layers;
  if (c.qkv_bias) return kQwen2Layers;
  return kLlamaLayers;
}

BlockDims dims_of(const LlamaConfig& c) {
  return {c.hidden, long(c.n_heads) * c.head_dim, long(c.n_kv_heads) * c.head_dim, c.ffn, c.head_dim};
}

}  // namespace

LlamaModel::LlamaModel() : TableModel(kLlamaLayers) {}

// ---------------------------------------------------------------- forward

MatrixF LlamaModel::forward(const std::vector<int32_t>& tokens) const { return forward_windows({{tokens, 0}}); }

// The rows of all windows go through the norms and linear layers together;
// RoPE and attention run window by window (positions from 0 in each, or
// after the prefix's).
MatrixF LlamaModel::hidden_windows(const std::vector<Window>& windows) const {
  const LlamaConfig& c = cfg_;
  const StackedRows rows = stack_windows(windows, c.vocab);
  // token embeddings, the windows one after another
  MatrixF x(rows.total, c.hidden);
  for (size_t w = 0; w < windows.size(); ++w)
    for (long t = 0; t < rows.size[w]; ++t) x.row(rows.start[w] + t) = embed_.row(windows[w].tokens[size_t(t)]);
  const RopeTable rope_all = rope_for(rows);
  for (int l = 0; l < c.n_layers; ++l) {
    const LlamaBlock& b = blocks_[size_t(l)];
    // attention rmsnorm, attention, residual connection back into x
    x += attention_part(l, rows, rope_all, rms_norm(x, b.attn_norm.weight, c.rms_eps), {}, nullptr);
    // ffn rmsnorm, MLP, residual connection
    x += mlp_part(l, rms_norm(x, b.ffn_norm.weight, c.rms_eps), {}, nullptr);
  }
  // final rmsnorm, for the rows asked for (the classifier: project_rows)
  return rms_norm(logit_rows(x, rows, windows), final_norm_.weight, c.rms_eps);
}

// RoPE angles of positions 0..T-1 (the longest window), once for all
// layers; a window at positions pos0.. reads the table from row pos0
// (scaled RoPE: frequencies for a sequence of that length)
RopeTable LlamaModel::rope_for(const StackedRows& rows) const {
  const LlamaConfig& c = cfg_;
  return rope_table(rows.longest, rope_frequencies(c.rope_scaling, c.head_dim, c.rope_base, rows.longest));
}

namespace {

// The layer `use` names for block l's `suffix` ("self_attn.q_proj"), else the model's own.
const LinearLayer& pick(const CausalLm::LinearOverrides& use, int l, const char* suffix,
                        const std::unique_ptr<LinearLayer>& own) {
  if (!use.empty()) {
    const auto it = use.find(str("model.layers.", l, ".", suffix));
    if (it != use.end()) return *it->second;
  }
  return *own;
}

}  // namespace

MatrixF LlamaModel::attention_part(int l, const StackedRows& rows, const RopeTable& rope_all, const MatrixF& xn,
                                   const LinearOverrides& use, MatrixF* o_input) const {
  const LlamaConfig& c = cfg_;
  const LlamaBlock& b = blocks_[size_t(l)];
  auto rope = [&](MatrixF& x, int heads, long pos0) {
    if (pos0 == 0) return apply_rope(x, heads, c.head_dim, rope_all, c.rope_style);
    const RopeTable from{rope_all.cos.middleRows(pos0, x.rows()), rope_all.sin.middleRows(pos0, x.rows())};
    apply_rope(x, heads, c.head_dim, from, c.rope_style);
  };
  // q, k, v projections (Phi-3: one fused projection, split by columns)
  MatrixF q, k, v;
  if (b.qkv) {
    const MatrixF qkv = pick(use, l, "self_attn.qkv_proj", b.qkv).forward(xn);
    const long nq = long(c.n_heads) * c.head_dim, nkv = long(c.n_kv_heads) * c.head_dim;
    q = qkv.leftCols(nq);
    k = qkv.middleCols(nq, nkv);
    v = qkv.rightCols(nkv);
  } else {
    const SharedInput in(xn);  // packed once for the three
    q = pick(use, l, "self_attn.q_proj", b.q).forward_shared(in);
    k = pick(use, l, "self_attn.k_proj", b.k).forward_shared(in);
    v = pick(use, l, "self_attn.v_proj", b.v).forward_shared(in);
  }
  // Qwen3: RMSNorm over each head of q and k
  if (c.qk_norm) {
    head_rms_norm(q, b.q_norm.weight, c.head_dim, c.rms_eps);
    head_rms_norm(k, b.k_norm.weight, c.head_dim, c.rms_eps);
  }
  const int window = c.window_of(l);
  const MatrixF att = attend_by_window(
      rows, q, k, v,
      [&](MatrixF& qw, MatrixF& kw, MatrixF& vw, long pos0) {
        attention_matmuls.on_projections(l, qw, kw, vw, c.head_dim);  // BMM inputs quantized before RoPE, if asked
        // RoPE on q and k
        rope(qw, c.n_heads, pos0);
        rope(kw, c.n_kv_heads, pos0);
      },
      [&](const MatrixF& qw, const MatrixF& kw, const MatrixF& vw) {
        // causal attention (GQA: n_heads / n_kv_heads query heads share a kv head)
        // (a sliding window: each query sees its last `window` positions)
        return causal_attention(qw, kw, vw, c.n_heads, c.n_kv_heads, c.head_dim, attention_matmuls, l, window);
      });
  if (o_input) *o_input = att;
  // output projection
  return pick(use, l, "self_attn.o_proj", b.o).forward(att);
}

MatrixF LlamaModel::mlp_part(int l, const MatrixF& hn, const LinearOverrides& use, MatrixF* down_input) const {
  const LlamaConfig& c = cfg_;
  const LlamaBlock& b = blocks_[size_t(l)];
  // SwiGLU: down(SiLU(gate(h)) * up(h)); Phi-3: gate | up from one projection
  MatrixF gate, up;
  if (b.gate_up) {
    const MatrixF gu = pick(use, l, "mlp.gate_up_proj", b.gate_up).forward(hn);
    gate = gu.leftCols(c.ffn);
    up = gu.rightCols(c.ffn);
  } else {
    const SharedInput in(hn);
    gate = pick(use, l, "mlp.gate_proj", b.gate).forward_shared(in);
    up = pick(use, l, "mlp.up_proj", b.up).forward_shared(in);
  }
  // Rows in parallel: every element is computed the same way on any thread.
  tbb::parallel_for(tbb::blocked_range<long>(0, gate.rows(), 16), [&](const tbb::blocked_range<long>& r) {
    kernels::silu_mul(gate.row(r.begin()).data(), up.row(r.begin()).data(), long(r.size()) * gate.cols());
  });
  if (down_input) *down_input = gate;
  return pick(use, l, "mlp.down_proj", b.down).forward(gate);
}

MatrixF LlamaModel::embed_windows(const std::vector<std::vector<int32_t>>& windows) const {
  std::vector<Window> ws;
  for (const auto& t : windows) ws.push_back({t, 0});
  const StackedRows rows = stack_windows(ws, cfg_.vocab);
  MatrixF x(rows.total, cfg_.hidden);
  for (size_t w = 0; w < windows.size(); ++w)
    for (long t = 0; t < rows.size[w]; ++t) x.row(rows.start[w] + t) = embed_.row(windows[w][size_t(t)]);
  return x;
}

MatrixF LlamaModel::forward_block(int l, const MatrixF& x, const std::vector<long>& sizes, BlockInputs* inputs,
                                  const LinearOverrides& use) const {
  const LlamaConfig& c = cfg_;
  if (l < 0 || l >= c.n_layers) throw Error(str("forward_block: no block ", l, " (", c.n_layers, " blocks)"));
  const StackedRows rows = stack_sizes(sizes);
  if (x.rows() != rows.total || x.cols() != c.hidden)
    throw Error(str("forward_block: input [", x.rows(), " x ", x.cols(), "] for ", rows.total, " rows of ", c.hidden));
  const LlamaBlock& b = blocks_[size_t(l)];
  MatrixF xn = rms_norm(x, b.attn_norm.weight, c.rms_eps);
  MatrixF y = x + attention_part(l, rows, rope_for(rows), xn, use, inputs ? &inputs->o : nullptr);
  MatrixF hn = rms_norm(y, b.ffn_norm.weight, c.rms_eps);
  y += mlp_part(l, hn, use, inputs ? &inputs->down : nullptr);
  if (inputs) {
    inputs->attn = std::move(xn);
    inputs->mlp = std::move(hn);
  }
  return y;
}

MatrixF LlamaModel::attention_module(int l, const MatrixF& xn, const std::vector<long>& sizes,
                                     const LinearOverrides& use) const {
  if (l < 0 || l >= cfg_.n_layers) throw Error(str("attention_module: no block ", l));
  const StackedRows rows = stack_sizes(sizes);
  if (xn.rows() != rows.total) throw Error(str("attention_module: ", xn.rows(), " rows for ", rows.total));
  return attention_part(l, rows, rope_for(rows), xn, use, nullptr);
}

MatrixF LlamaModel::mlp_module(int l, const MatrixF& hn, const LinearOverrides& use) const {
  if (l < 0 || l >= cfg_.n_layers) throw Error(str("mlp_module: no block ", l));
  return mlp_part(l, hn, use, nullptr);
}

// ---------------------------------------------------------------- config

LlamaConfig LlamaConfig::from_gguf(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3" && arch != "phi3")
    throw Error(g.path() + ": architecture '" + arch + "' is not llama, qwen2, qwen3 or phi3");
  const std::string p = arch + ".";
  LlamaConfig c;
  c.arch = arch;  // llama.cpp writes Mistral as "llama"
  c.qkv_bias = arch == "qwen2";
  c.qk_norm = arch == "qwen3";
  c.fused = arch == "phi3";
  c.n_layers = read_positive_int(g, p + "block_count");
  c.hidden = read_positive_int(g, p + "embedding_length");
  c.n_heads = read_positive_int(g, p + "attention.head_count");
  c.n_kv_heads = read_positive_int(g, p + "attention.head_count_kv", c.n_heads);
  c.head_dim = read_positive_int(g, p + "attention.key_length", 0);  // Qwen3: explicit
  c.ffn = read_positive_int(g, p + "feed_forward_length");
  c.context = read_positive_int(g, p + "context_length", 0);
  c.rms_eps = float(g.get_float(p + "attention.layer_norm_rms_epsilon"));
  c.rope_base = g.has(p + "rope.freq_base") ? float(g.get_float(p + "rope.freq_base")) : 10000.0f;
  // (Phi-3's converter writes 0 for no window)
  if (g.has(p + "attention.sliding_window") && g.get_int(p + "attention.sliding_window") != 0)
    c.sliding_window = read_positive_int(g, p + "attention.sliding_window");
  c.vocab = g.has(p + "vocab_size") ? read_positive_int(g, p + "vocab_size")
                                    : int(g.get("tokenizer.ggml.tokens").items.size());
  c.validate(g.path());
  if (g.has(p + "rope.dimension_count") && g.get_int(p + "rope.dimension_count") != c.head_dim)
    throw Error(g.path() + ": partial RoPE (rope.dimension_count != head dim) is not supported");
  if (g.has(p + "rope.scaling.type") && g.get_string(p + "rope.scaling.type") != "none")
    throw Error(g.path() + ": " + p + "rope.scaling.type '" + g.get_string(p + "rope.scaling.type") +
                "' is not supported in GGUF files (Hugging Face folders read RoPE scaling)");
  if (g.find_tensor("rope_freqs.weight"))  // Llama 3.1's llama3 scaling, precomputed by the converter
    throw Error(g.path() + ": tensor rope_freqs.weight (RoPE frequency factors) is not supported in GGUF files "
                "(Hugging Face folders read rope_type llama3)");
  return c;
}

void LlamaConfig::validate(const std::string& what) {
  LlamaConfig& c = *this;
  if (c.n_layers <= 0 || c.hidden <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.ffn <= 0 || c.vocab <= 0)
    throw Error(what + ": non-positive llama hyperparameter");
  if (c.head_dim < 0) throw Error(str(what, ": negative head dimension ", c.head_dim));
  if (c.head_dim == 0 && c.hidden % c.n_heads != 0)
    throw Error(str(what, ": hidden size ", c.hidden, " not a multiple of head count ", c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error(str(what, ": head count ", c.n_heads, " not a multiple of kv head count ", c.n_kv_heads));
  if (c.head_dim == 0) c.head_dim = c.hidden / c.n_heads;
  if (c.head_dim % 2 != 0) throw Error(str(what, ": odd head dimension ", c.head_dim));
  if (!(c.rms_eps > 0.0f) || !(c.rope_base > 0.0f)) throw Error(what + ": rms eps and rope base must be positive");
  if (c.sliding_window < 0) throw Error(str(what, ": negative sliding window ", c.sliding_window));
  if (!c.window_layers.empty() && c.window_layers.size() != size_t(c.n_layers))
    throw Error(str(what, ": ", c.window_layers.size(), " layer types for ", c.n_layers, " layers"));
}

// ---------------------------------------------------------------- names and loading

std::string gguf_to_hf_name(const std::string& n) {
  const bool suffixed = split_weight_suffix(n).second == ".weight";
  return split_weight_suffix(hf_tensor_name(kLlamaLayers, suffixed ? n : n + ".weight")).first;
}

LlamaModel LlamaModel::load_gguf(const std::string& path) {
  const GgufFile g = GgufFile::open(path);
  LlamaConfig c = LlamaConfig::from_gguf(g);
  // llama.cpp's converter permutes the Q/K rows of "llama" only; Qwen and Phi-3
  // keep HF's order (llama.cpp's NEOX RoPE type)
  c.rope_style = c.arch == "llama" ? RopeStyle::Adjacent : RopeStyle::Half;
  c.tied_embeddings = g.find_tensor("output.weight") == nullptr;
  // Phi-3 longrope: llama.cpp's converter writes the factors as two tensors
  // and the attention factor as a key
  const bool long_f = g.find_tensor("rope_factors_long.weight"), short_f = g.find_tensor("rope_factors_short.weight");
  if (long_f || short_f) {
    if (c.arch != "phi3" || !long_f || !short_f)
      throw Error(g.path() + ": rope_factors_long/short tensors are read only as a pair, for phi3");
    const std::string p = c.arch + ".rope.scaling.";
    RopeScaling& r = c.rope_scaling;
    r.type = "longrope";
    r.factor = 0;  // context / original context
    r.max_positions = c.context;
    r.original_max = read_positive_int(g, p + "original_context_length");
    if (g.has(p + "attn_factor")) r.attention_factor = g.get_float(p + "attn_factor");
    const WeightSource raw = gguf_weight_source(g, c.arch, [](const std::string& n) { return n; });
    for (auto [name, out] : {std::pair{"rope_factors_long.weight", &r.long_factor},
                             std::pair{"rope_factors_short.weight", &r.short_factor}}) {
      const MatrixF f = raw.load(name, 1, c.head_dim / 2);
      for (long i = 0; i < f.size(); ++i) {
        if (!(f.data()[i] > 0.0f)) throw Error(str(g.path(), ": tensor ", name, " entry ", i, " is not positive"));
        out->push_back(f.data()[i]);
      }
    }
    if (c.context <= 0) throw Error(g.path() + ": longrope needs " + c.arch + ".context_length");
  }
  return from_weights(c, gguf_weight_source(g, table_of(c)));  // tensors the table does not name are ignored
}

LlamaModel LlamaModel::from_weights(const LlamaConfig& cfg, const WeightSource& src) {
  LlamaModel m;
  m.cfg_ = cfg;
  m.table_ = &table_of(cfg);
  const BlockDims d = dims_of(cfg);
  m.load_embeddings(src, d, cfg.vocab);
  m.load_blocks(src, d, cfg.n_layers);
  m.load_head(src, d, cfg.vocab, cfg.tied_embeddings);
  return m;
}

// ---------------------------------------------------------------- pieces

MatrixF rms_norm(const MatrixF& x, const VectorF& w, float eps) {
  if (w.size() != x.cols()) throw Error(str("rms_norm: weight size ", w.size(), " != ", x.cols()));
  MatrixF y(x.rows(), x.cols());
  // Rows in parallel: each row is computed the same way on any thread.
  tbb::parallel_for(tbb::blocked_range<long>(0, x.rows(), 16), [&](const tbb::blocked_range<long>& r) {
    for (long t = r.begin(); t < r.end(); ++t) {
      const float ms = x.row(t).squaredNorm() / float(x.cols());
      const float inv = 1.0f / std::sqrt(ms + eps);
      y.row(t) = (x.row(t) * inv).cwiseProduct(w.transpose());
    }
  });
  return y;
}

void head_rms_norm(MatrixF& x, const VectorF& w, int head_dim, float eps) {
  if (w.size() != head_dim || head_dim <= 0 || x.cols() % head_dim != 0)
    throw Error(str("head_rms_norm: weight size ", w.size(), ", head dim ", head_dim, ", width ", x.cols()));
  for (long t = 0; t < x.rows(); ++t)
    for (long h = 0; h < x.cols() / head_dim; ++h) {
      auto seg = x.row(t).segment(h * head_dim, head_dim);
      const float inv = 1.0f / std::sqrt(seg.squaredNorm() / float(head_dim) + eps);
      seg = (seg * inv).cwiseProduct(w.transpose());
    }
}

namespace {

RopeTable table_from(long rows, const std::vector<double>& inv_freq, double factor, int pos0) {
  const int half = int(inv_freq.size());
  RopeTable r;
  r.cos.resize(rows, half);
  r.sin.resize(rows, half);
  for (long t = 0; t < rows; ++t) {
    const double pos = double(pos0 + t);
    for (int i = 0; i < half; ++i) {
      const double a = pos * inv_freq[i];
      r.cos(t, i) = float(std::cos(a) * factor);
      r.sin(t, i) = float(std::sin(a) * factor);
    }
  }
  return r;
}

}  // namespace

RopeTable rope_table(long rows, int head_dim, float base, int pos0) {
  return table_from(rows, rope_frequencies(RopeScaling{}, head_dim, base, rows).inv_freq, 1.0, pos0);
}

RopeTable rope_table(long rows, const RopeFrequencies& f) { return table_from(rows, f.inv_freq, f.attention_factor, 0); }

namespace {

// Rotates pair i of every head by the angle of its position: the pair is
// (2i, 2i + 1) when kAdjacent (GGUF's interleaved layout), else (i, i + half)
// (Hugging Face's rotate_half).
template <bool kAdjacent>
void rotate_pairs(MatrixF& x, int n_heads, int head_dim, const RopeTable& r) {
  if (x.cols() != long(n_heads) * head_dim) throw Error("rope: width mismatch");
  const int half = head_dim / 2;
  if (r.cos.rows() < x.rows() || r.cos.cols() != half || r.sin.rows() != r.cos.rows() || r.sin.cols() != half)
    throw Error(str("rope: table is [", r.cos.rows(), " x ", r.cos.cols(), "], need at least [", x.rows(), " x ",
                    half, "]"));
  for (long t = 0; t < x.rows(); ++t) {
    const float* cs = r.cos.row(t).data();
    const float* sn = r.sin.row(t).data();
    for (int h = 0; h < n_heads; ++h) {
      float* p = x.row(t).data() + long(h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const int i0 = kAdjacent ? 2 * i : i, i1 = kAdjacent ? 2 * i + 1 : i + half;
        const float x0 = p[i0], x1 = p[i1];
        p[i0] = x0 * cs[i] - x1 * sn[i];
        p[i1] = x0 * sn[i] + x1 * cs[i];
      }
    }
  }
}

}  // namespace

void apply_rope(MatrixF& x, int n_heads, int head_dim, const RopeTable& r, RopeStyle style) {
  if (style == RopeStyle::Adjacent)
    rotate_pairs<true>(x, n_heads, head_dim, r);
  else
    rotate_pairs<false>(x, n_heads, head_dim, r);
}

void apply_rope_adjacent(MatrixF& x, int n_heads, int head_dim, const RopeTable& r) {
  apply_rope(x, n_heads, head_dim, r, RopeStyle::Adjacent);
}

void apply_rope_adjacent(MatrixF& x, int n_heads, int head_dim, float base, int pos0) {
  apply_rope_adjacent(x, n_heads, head_dim, rope_table(x.rows(), head_dim, base, pos0));
}

void apply_rope_half(MatrixF& x, int n_heads, int head_dim, const RopeTable& r) {
  apply_rope(x, n_heads, head_dim, r, RopeStyle::Half);
}

void apply_rope_half(MatrixF& x, int n_heads, int head_dim, float base, int pos0) {
  apply_rope_half(x, n_heads, head_dim, rope_table(x.rows(), head_dim, base, pos0));
}

}  // namespace sqsim
