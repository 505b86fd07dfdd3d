// Llama forward pass in the llama2.c spirit: the weights as one table, then
// the forward, read top to bottom; config, loading and the pieces follow.
#include "sim/models/llama_model.h"

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

BlockDims dims_of(const LlamaConfig& c) {
  return {c.hidden, long(c.n_heads) * c.head_dim, long(c.n_kv_heads) * c.head_dim, c.ffn};
}

}  // namespace

LlamaModel::LlamaModel() : TableModel(kLlamaLayers) {}

// ---------------------------------------------------------------- forward

MatrixF LlamaModel::forward(const std::vector<int32_t>& tokens) const { return forward_windows({{tokens, 0}}); }

// The rows of all windows go through the norms and linear layers together;
// RoPE and attention run window by window (positions from 0 in each, or
// after the prefix's).
MatrixF LlamaModel::forward_windows(const std::vector<Window>& windows) const {
  const LlamaConfig& c = cfg_;
  const StackedRows rows = stack_windows(windows, c.vocab);
  // token embeddings, the windows one after another
  MatrixF x(rows.total, c.hidden);
  for (size_t w = 0; w < windows.size(); ++w)
    for (long t = 0; t < rows.size[w]; ++t) x.row(rows.start[w] + t) = embed_.row(windows[w].tokens[size_t(t)]);
  // RoPE angles of positions 0..T-1 (the longest window), once for all
  // layers; a window at positions pos0.. reads the table from row pos0
  const RopeTable rope_all = rope_table(rows.longest, c.head_dim, c.rope_base);
  auto rope = [&](MatrixF& x, int heads, long pos0) {
    if (pos0 == 0) return apply_rope(x, heads, c.head_dim, rope_all, c.rope_style);
    const RopeTable from{rope_all.cos.middleRows(pos0, x.rows()), rope_all.sin.middleRows(pos0, x.rows())};
    apply_rope(x, heads, c.head_dim, from, c.rope_style);
  };
  for (int l = 0; l < c.n_layers; ++l) {
    const LlamaBlock& b = blocks_[size_t(l)];
    // attention rmsnorm
    const MatrixF xn = rms_norm(x, b.attn_norm.weight, c.rms_eps);
    // q, k, v projections
    const MatrixF q = b.q->forward(xn), k = b.k->forward(xn), v = b.v->forward(xn);
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
          return causal_attention(qw, kw, vw, c.n_heads, c.n_kv_heads, c.head_dim, attention_matmuls, l);
        });
    // output projection, residual connection back into x
    x += b.o->forward(att);
    // ffn rmsnorm
    const MatrixF hn = rms_norm(x, b.ffn_norm.weight, c.rms_eps);
    // SwiGLU: down(SiLU(gate(h)) * up(h))
    MatrixF gate = b.gate->forward(hn);
    const MatrixF up = b.up->forward(hn);
    kernels::silu_mul(gate.data(), up.data(), gate.size());
    // residual connection
    x += b.down->forward(gate);
  }
  // final rmsnorm, then the classifier into logits, for the rows asked for
  return lm_head_->forward(rms_norm(logit_rows(x, rows, windows), final_norm_.weight, c.rms_eps));
}

// ---------------------------------------------------------------- config

LlamaConfig LlamaConfig::from_gguf(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "llama") throw Error(g.path() + ": architecture '" + arch + "' is not llama");
  LlamaConfig c;
  c.n_layers = read_positive_int(g, "llama.block_count");
  c.hidden = read_positive_int(g, "llama.embedding_length");
  c.n_heads = read_positive_int(g, "llama.attention.head_count");
  c.n_kv_heads = read_positive_int(g, "llama.attention.head_count_kv", c.n_heads);
  c.ffn = read_positive_int(g, "llama.feed_forward_length");
  c.context = read_positive_int(g, "llama.context_length", 0);
  c.rms_eps = float(g.get_float("llama.attention.layer_norm_rms_epsilon"));
  c.rope_base = g.has("llama.rope.freq_base") ? float(g.get_float("llama.rope.freq_base")) : 10000.0f;
  c.vocab = g.has("llama.vocab_size") ? read_positive_int(g, "llama.vocab_size")
                                      : int(g.get("tokenizer.ggml.tokens").items.size());
  c.validate(g.path());
  if (g.has("llama.rope.dimension_count") && g.get_int("llama.rope.dimension_count") != c.head_dim)
    throw Error(g.path() + ": partial RoPE (rope.dimension_count != head dim) is not supported");
  return c;
}

void LlamaConfig::validate(const std::string& what) {
  LlamaConfig& c = *this;
  if (c.n_layers <= 0 || c.hidden <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.ffn <= 0 || c.vocab <= 0)
    throw Error(what + ": non-positive llama hyperparameter");
  if (c.hidden % c.n_heads != 0)
    throw Error(str(what, ": hidden size ", c.hidden, " not a multiple of head count ", c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error(str(what, ": head count ", c.n_heads, " not a multiple of kv head count ", c.n_kv_heads));
  c.head_dim = c.hidden / c.n_heads;
  if (c.head_dim % 2 != 0) throw Error(str(what, ": odd head dimension ", c.head_dim));
  if (!(c.rms_eps > 0.0f) || !(c.rope_base > 0.0f)) throw Error(what + ": rms eps and rope base must be positive");
}

// ---------------------------------------------------------------- names and loading

std::string gguf_to_hf_name(const std::string& n) {
  const bool suffixed = split_weight_suffix(n).second == ".weight";
  return split_weight_suffix(hf_tensor_name(kLlamaLayers, suffixed ? n : n + ".weight")).first;
}

LlamaModel LlamaModel::load_gguf(const std::string& path) {
  const GgufFile g = GgufFile::open(path);
  LlamaConfig c = LlamaConfig::from_gguf(g);
  c.rope_style = RopeStyle::Adjacent;  // the converter permuted the Q/K rows
  c.tied_embeddings = g.find_tensor("output.weight") == nullptr;
  return from_weights(c, gguf_weight_source(g, kLlamaLayers));  // tensors the table does not name are ignored
}

LlamaModel LlamaModel::from_weights(const LlamaConfig& cfg, const WeightSource& src) {
  LlamaModel m;
  m.cfg_ = cfg;
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
  for (long t = 0; t < x.rows(); ++t) {
    const float ms = x.row(t).squaredNorm() / float(x.cols());
    const float inv = 1.0f / std::sqrt(ms + eps);
    y.row(t) = (x.row(t) * inv).cwiseProduct(w.transpose());
  }
  return y;
}

RopeTable rope_table(long rows, int head_dim, float base, int pos0) {
  const int half = head_dim / 2;
  std::vector<double> inv_freq(half);
  for (int i = 0; i < half; ++i) inv_freq[i] = std::pow(double(base), -2.0 * i / head_dim);
  RopeTable r;
  r.cos.resize(rows, half);
  r.sin.resize(rows, half);
  for (long t = 0; t < rows; ++t) {
    const double pos = double(pos0 + t);
    for (int i = 0; i < half; ++i) {
      const double a = pos * inv_freq[i];
      r.cos(t, i) = float(std::cos(a));
      r.sin(t, i) = float(std::sin(a));
    }
  }
  return r;
}

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
