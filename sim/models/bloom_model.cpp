// BLOOM forward pass, read top to bottom (see bloom_model.h for the math): the
// weights as one table, then the forward; config and loading follow.
#include "sim/models/bloom_model.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/str.h"
#include "sim/models/opt_model.h"  // layer_norm

namespace sqsim {

// ---------------------------------------------------------------- weights

namespace {

// Per block, in forward order. Shapes in config sizes (BlockDims); every
// linear layer and norm has a bias. GGUF names: docs/gguf.md, "BLOOM in GGUF".
constexpr NormSlot<BloomBlock> kBloomNorms[] = {
    {"input_layernorm", "attn_norm", &BloomBlock::attn_ln, Dim::kHidden},
    {"post_attention_layernorm", "ffn_norm", &BloomBlock::ffn_ln, Dim::kHidden},
};
constexpr LinearSlot<BloomBlock> kBloomLinears[] = {
    // name                              gguf           slot              out         in          reads the norm
    {"self_attention.query_key_value", "attn_qkv", &BloomBlock::qkv, Dim::kQkv, Dim::kHidden, &BloomBlock::attn_ln},
    {"self_attention.dense", "attn_output", &BloomBlock::dense, Dim::kHidden, Dim::kHidden, nullptr},
    {"mlp.dense_h_to_4h", "ffn_up", &BloomBlock::fc1, Dim::kFfn, Dim::kHidden, &BloomBlock::ffn_ln},
    {"mlp.dense_4h_to_h", "ffn_down", &BloomBlock::fc2, Dim::kHidden, Dim::kFfn, nullptr},
};
// The LayerNorm on the token embeddings [hidden], weight and bias.
constexpr TensorSlot kBloomEmbedNorm = {"transformer.word_embeddings_layernorm", "token_embd_norm"};
constexpr TensorSlot kBloomExtra[] = {kBloomEmbedNorm};
constexpr LayerTable<BloomBlock> kBloomLayers = {
    "bloom",
    "transformer.h.",
    kBloomNorms,
    kBloomLinears,
    {"transformer.word_embeddings", "token_embd"},
    {"transformer.ln_f", "output_norm"},
    {"lm_head", "output"},
    kBloomExtra,
    /*biases=*/true,
};

BlockDims dims_of(const BloomConfig& c) {
  BlockDims d{c.hidden, c.hidden, c.hidden, 4L * c.hidden};
  return d;
}

VectorF norm_vector(const WeightSource& src, const std::string& name, long n) {
  const MatrixF w = src.load(name, 1, n);
  return VectorF(Eigen::Map<const VectorF>(w.data(), n));
}

}  // namespace

BloomModel::BloomModel() : TableModel(kBloomLayers) {}

// ---------------------------------------------------------------- forward

VectorF alibi_slopes(int n) {
  if (n <= 0) throw Error(str("alibi_slopes: head count ", n, " must be positive"));
  int p = 1;
  while (p * 2 <= n) p *= 2;
  VectorF s(n);
  // b^i for i = 1..p with b = 2^(-8/p); then (2^(-4/p))^i for odd i = 1, 3, ...
  const double base = std::pow(2.0, -8.0 / p), extra = std::pow(2.0, -4.0 / p);
  for (int i = 0; i < p; ++i) s[i] = float(std::pow(base, i + 1));
  for (int i = p; i < n; ++i) s[i] = float(std::pow(extra, 2 * (i - p) + 1));
  return s;
}

void bloom_gelu(MatrixF& h) {
  // Eigen's vectorized tanh (a rational approximation within a few ulp of
  // std::tanh) instead of the scalar libm call, which took a quarter of the
  // forward; row blocks in parallel (elementwise: the same bits).
  tbb::parallel_for(tbb::blocked_range<long>(0, h.rows(), 16), [&](const tbb::blocked_range<long>& r) {
    auto x = h.middleRows(r.begin(), r.end() - r.begin()).array();
    x = x * 0.5f * (1.0f + (0.79788456f * x * (1.0f + 0.044715f * x * x)).tanh());
  });
}

MatrixF BloomModel::forward(const std::vector<int32_t>& tokens) const { return forward_windows({{tokens, 0}}); }

// The rows of all windows go through the norms and linear layers together;
// attention runs window by window (ALiBi positions from 0 in each, or after
// the prefix's).
MatrixF BloomModel::hidden_windows(const std::vector<Window>& windows) const {
  const BloomConfig& c = cfg_;
  const StackedRows rows = stack_windows(windows, c.vocab);
  const long H = c.hidden, d = c.head_dim;
  // token embeddings, then word_embeddings_layernorm (no positions: ALiBi)
  MatrixF e(rows.total, H);
  for (size_t w = 0; w < windows.size(); ++w)
    for (long t = 0; t < rows.size[w]; ++t) e.row(rows.start[w] + t) = embed_.row(windows[w].tokens[size_t(t)]);
  MatrixF x = layer_norm(e, embed_ln_.weight, embed_ln_.bias, c.ln_eps);
  MatrixF q(rows.total, H), k(rows.total, H), v(rows.total, H);
  for (int l = 0; l < c.n_layers; ++l) {
    const BloomBlock& b = blocks_[size_t(l)];
    // input layernorm, the fused projection, split per head: row block
    // [h*3d, h*3d + d) is head h's q, then its k, then its v
    const MatrixF qkv = b.qkv->forward(layer_norm(x, b.attn_ln.weight, b.attn_ln.bias, c.ln_eps));
    for (int h = 0; h < c.n_heads; ++h) {
      q.middleCols(h * d, d) = qkv.middleCols(h * 3 * d, d);
      k.middleCols(h * d, d) = qkv.middleCols(h * 3 * d + d, d);
      v.middleCols(h * d, d) = qkv.middleCols(h * 3 * d + 2 * d, d);
    }
    // causal attention with ALiBi per window, output projection, residual
    const MatrixF att = attend_by_window(
        rows, q, k, v,
        [&](MatrixF& qw, MatrixF& kw, MatrixF& vw, long) {
          attention_matmuls.on_projections(l, qw, kw, vw, c.head_dim);  // BMM inputs quantized at the projections
        },
        [&](const MatrixF& qw, const MatrixF& kw, const MatrixF& vw) {
          return causal_attention(qw, kw, vw, c.n_heads, c.n_heads, c.head_dim, attention_matmuls, l, 0, &slopes_);
        });
    x += b.dense->forward(att);
    // post-attention layernorm, dense_h_to_4h, BLOOM's GELU, dense_4h_to_h, residual
    MatrixF h = b.fc1->forward(layer_norm(x, b.ffn_ln.weight, b.ffn_ln.bias, c.ln_eps));
    bloom_gelu(h);
    x += b.fc2->forward(h);
  }
  // ln_f, then the head (tied to the embeddings) into logits, for the rows asked for
  return layer_norm(logit_rows(x, rows, windows), final_norm_.weight, final_norm_.bias, c.ln_eps);  // head: project_rows
}

// ---------------------------------------------------------------- config

void BloomConfig::validate(const std::string& what) {
  if (n_layers <= 0 || hidden <= 0 || n_heads <= 0 || vocab <= 0) throw Error(what + ": non-positive bloom hyperparameter");
  if (hidden % n_heads != 0)
    throw Error(str(what, ": hidden size ", hidden, " not a multiple of head count ", n_heads));
  if (hidden > (1 << 28)) throw Error(str(what, ": hidden size ", hidden, " is too large"));
  head_dim = hidden / n_heads;
  if (!(ln_eps > 0.0f) || !std::isfinite(ln_eps)) throw Error(what + ": layer norm epsilon must be positive and finite");
}

BloomConfig BloomConfig::from_gguf(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "bloom") throw Error(g.path() + ": architecture '" + arch + "' is not bloom");
  BloomConfig c;
  c.n_layers = read_positive_int(g, "bloom.block_count");
  c.hidden = read_positive_int(g, "bloom.embedding_length");
  c.n_heads = read_positive_int(g, "bloom.attention.head_count");
  if (g.has("bloom.attention.head_count_kv") && g.get_int("bloom.attention.head_count_kv") != c.n_heads)
    throw Error(g.path() + ": bloom.attention.head_count_kv must equal bloom.attention.head_count (BLOOM has no GQA)");
  if (g.has("bloom.feed_forward_length") && g.get_int("bloom.feed_forward_length") != 4L * c.hidden)
    throw Error(g.path() + ": bloom.feed_forward_length must be 4 * bloom.embedding_length");
  if (g.has("bloom.attention.layer_norm_epsilon")) {
    const double eps = g.get_float("bloom.attention.layer_norm_epsilon");
    if (!(eps > 0.0) || !std::isfinite(eps) || !(float(eps) > 0.0f))
      throw Error(str(g.path(), ": bloom.attention.layer_norm_epsilon = ", eps, ", expected a positive finite float"));
    c.ln_eps = float(eps);
  }
  const GgufTensorInfo* t = g.find_tensor("token_embd.weight");
  if (!t || t->dims.size() != 2)
    throw Error(g.path() + ": no 2-D tensor token_embd.weight to take the vocabulary from");
  if (t->dims[1] > uint64_t(std::numeric_limits<int32_t>::max()))
    throw Error(str(g.path(), ": token_embd.weight has ", t->dims[1], " rows, too many tokens"));
  c.vocab = int(t->dims[1]);
  c.validate(g.path());
  return c;
}

// ---------------------------------------------------------------- loading

MatrixF bloom_qkv_from_gguf_order(const MatrixF& w, int n_heads, int head_dim) {
  const long H = long(n_heads) * head_dim;
  if (w.rows() != 3 * H) throw Error(str("bloom qkv: ", w.rows(), " rows, expected 3 * ", H));
  MatrixF out(w.rows(), w.cols());
  for (int h = 0; h < n_heads; ++h)
    for (int part = 0; part < 3; ++part)  // q, k, v
      out.middleRows((3L * h + part) * head_dim, head_dim) = w.middleRows(part * H + long(h) * head_dim, head_dim);
  return out;
}

BloomModel BloomModel::load_gguf(const std::string& path) {
  const GgufFile g = GgufFile::open(path);
  const BloomConfig c = BloomConfig::from_gguf(g);
  WeightSource src = gguf_weight_source(g, kBloomLayers);  // other tensors are ignored
  const WeightSource gguf = src;
  src.load = [gguf, c](const std::string& hf, long rows, long cols) {
    MatrixF w = gguf.load(hf, rows, cols);
    if (hf.find(".self_attention.query_key_value.") == std::string::npos) return w;
    if (rows > 1) return bloom_qkv_from_gguf_order(w, c.n_heads, c.head_dim);
    // a bias comes as one row [1 x 3H]: reorder it as a column
    const MatrixF col = w.transpose();
    return MatrixF(bloom_qkv_from_gguf_order(col, c.n_heads, c.head_dim).transpose());
  };
  return from_weights(c, src);
}

BloomModel BloomModel::from_weights(const BloomConfig& cfg, const WeightSource& src) {
  BloomModel m;
  m.cfg_ = cfg;
  m.cfg_.validate("bloom config");
  const BlockDims d = dims_of(m.cfg_);
  m.load_embeddings(src, d, cfg.vocab);
  const std::string en = kBloomEmbedNorm.name;
  m.embed_ln_.weight = norm_vector(src, en + ".weight", d.hidden);
  m.embed_ln_.bias = norm_vector(src, en + ".bias", d.hidden);
  m.load_blocks(src, d, cfg.n_layers);
  m.load_head(src, d, cfg.vocab, /*tied=*/false);  // tied when the source has no lm_head.weight
  m.slopes_ = alibi_slopes(cfg.n_heads);
  return m;
}

}  // namespace sqsim
