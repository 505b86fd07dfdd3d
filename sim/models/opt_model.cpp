// OPT forward pass, read top to bottom (see opt_model.h for the math): the
// weights as one table, then the forward; config and loading follow.
#include "sim/models/opt_model.h"

#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

// ---------------------------------------------------------------- weights

namespace {

// Per block, in forward order. Shapes in config sizes (BlockDims); every
// linear layer and norm has a bias. GGUF names: docs/gguf.md, "OPT in GGUF".
constexpr NormSlot<OptBlock> kOptNorms[] = {
    {"self_attn_layer_norm", "attn_norm", &OptBlock::attn_ln, Dim::kHidden},
    {"final_layer_norm", "ffn_norm", &OptBlock::ffn_ln, Dim::kHidden},
};
constexpr LinearSlot<OptBlock> kOptLinears[] = {
    // name                 gguf           slot          out          in           reads the norm
    {"self_attn.q_proj", "attn_q", &OptBlock::q, Dim::kHidden, Dim::kHidden, &OptBlock::attn_ln},
    {"self_attn.k_proj", "attn_k", &OptBlock::k, Dim::kHidden, Dim::kHidden, &OptBlock::attn_ln},
    {"self_attn.v_proj", "attn_v", &OptBlock::v, Dim::kHidden, Dim::kHidden, &OptBlock::attn_ln},
    {"self_attn.out_proj", "attn_output", &OptBlock::o, Dim::kHidden, Dim::kHidden, nullptr},
    {"fc1", "ffn_up", &OptBlock::fc1, Dim::kFfn, Dim::kHidden, &OptBlock::ffn_ln},
    {"fc2", "ffn_down", &OptBlock::fc2, Dim::kHidden, Dim::kFfn, nullptr},
};
// The learned position table [max_positions + 2 x hidden].
constexpr TensorSlot kOptPositions = {"model.decoder.embed_positions", "position_embd"};
constexpr TensorSlot kOptExtra[] = {kOptPositions};
constexpr LayerTable<OptBlock> kOptLayers = {
    "opt",
    "model.decoder.layers.",
    kOptNorms,
    kOptLinears,
    {"model.decoder.embed_tokens", "token_embd"},
    {"model.decoder.final_layer_norm", "output_norm"},
    {"lm_head", "output"},
    kOptExtra,
    /*biases=*/true,
};

BlockDims dims_of(const OptConfig& c) { return {c.hidden, c.hidden, c.hidden, c.ffn}; }

}  // namespace

OptModel::OptModel() : TableModel(kOptLayers) {}

// ---------------------------------------------------------------- forward

MatrixF layer_norm(const MatrixF& x, const VectorF& w, const VectorF& b, float eps) {
  if (w.size() != x.cols() || b.size() != x.cols())
    throw Error(str("layer_norm: weight/bias size ", w.size(), "/", b.size(), " != ", x.cols()));
  MatrixF y(x.rows(), x.cols());
  for (long t = 0; t < x.rows(); ++t) {
    const float mean = x.row(t).mean();
    const auto centered = x.row(t).array() - mean;
    const float var = centered.square().mean();
    const float inv = 1.0f / std::sqrt(var + eps);
    y.row(t) = (centered * inv * w.transpose().array() + b.transpose().array()).matrix();
  }
  return y;
}

MatrixF OptModel::forward(const std::vector<int32_t>& tokens) const { return forward_windows({{tokens, 0}}); }

// The rows of all windows go through the norms and linear layers together;
// attention runs window by window (positions from 0 in each, or after the
// prefix's).
MatrixF OptModel::hidden_windows(const std::vector<Window>& windows) const {
  const OptConfig& c = cfg_;
  const StackedRows rows = stack_windows(windows, c.vocab);
  if (rows.longest > c.max_positions)
    throw Error(str("forward: window of ", rows.longest, " tokens exceeds max_position_embeddings ", c.max_positions));
  // token embeddings plus learned positions (OPT's offset: position p reads row p + 2)
  MatrixF x(rows.total, c.hidden);
  for (size_t w = 0; w < windows.size(); ++w)
    for (long t = 0; t < rows.size[w]; ++t)
      x.row(rows.start[w] + t) = embed_.row(windows[w].tokens[size_t(t)]) + positions_.row(rows.pos0[w] + t + 2);
  for (int l = 0; l < c.n_layers; ++l) {
    const OptBlock& b = blocks_[size_t(l)];
    // attention layernorm
    const MatrixF xn = layer_norm(x, b.attn_ln.weight, b.attn_ln.bias, c.ln_eps);
    // q, k, v projections, causal attention (no GQA) per window, output projection, residual
    const MatrixF q = b.q->forward(xn), k = b.k->forward(xn), v = b.v->forward(xn);
    const MatrixF att = attend_by_window(
        rows, q, k, v,
        [&](MatrixF& qw, MatrixF& kw, MatrixF& vw, long) {
          attention_matmuls.on_projections(l, qw, kw, vw, c.head_dim);  // BMM inputs quantized at the projections
        },
        [&](const MatrixF& qw, const MatrixF& kw, const MatrixF& vw) {
          return causal_attention(qw, kw, vw, c.n_heads, c.n_heads, c.head_dim, attention_matmuls, l);
        });
    x += b.o->forward(att);
    // ffn layernorm
    const MatrixF hn = layer_norm(x, b.ffn_ln.weight, b.ffn_ln.bias, c.ln_eps);
    // fc1, ReLU, fc2, residual
    const MatrixF h = b.fc1->forward(hn).cwiseMax(0.0f);
    x += b.fc2->forward(h);
  }
  // final layernorm, then the head (tied to the embeddings) into logits, for the rows asked for
  return layer_norm(logit_rows(x, rows, windows), final_norm_.weight, final_norm_.bias, c.ln_eps);  // head: project_rows
}

// ---------------------------------------------------------------- config

void OptConfig::validate(const std::string& what) {
  if (n_layers <= 0 || hidden <= 0 || n_heads <= 0 || ffn <= 0 || vocab <= 0 || max_positions <= 0)
    throw Error(what + ": non-positive opt hyperparameter");
  if (hidden % n_heads != 0)
    throw Error(str(what, ": hidden size ", hidden, " not a multiple of head count ", n_heads));
  head_dim = hidden / n_heads;
  if (!(ln_eps > 0.0f)) throw Error(what + ": layer norm eps must be positive");
}

OptConfig OptConfig::from_gguf(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "opt") throw Error(g.path() + ": architecture '" + arch + "' is not opt");
  OptConfig c;
  c.n_layers = read_positive_int(g, "opt.block_count");
  c.hidden = read_positive_int(g, "opt.embedding_length");
  c.n_heads = read_positive_int(g, "opt.attention.head_count");
  c.ffn = read_positive_int(g, "opt.feed_forward_length");
  c.max_positions = read_positive_int(g, "opt.context_length");
  if (c.max_positions > std::numeric_limits<int32_t>::max() - 2)
    throw Error(str(g.path(), ": opt.context_length ", c.max_positions, " is too large"));
  if (g.has("opt.attention.head_count_kv") && g.get_int("opt.attention.head_count_kv") != c.n_heads)
    throw Error(g.path() + ": opt.attention.head_count_kv must equal opt.attention.head_count (OPT has no GQA)");
  if (g.has("opt.attention.layer_norm_epsilon")) {
    const double eps = g.get_float("opt.attention.layer_norm_epsilon");
    if (!(eps > 0.0) || !std::isfinite(eps) || !(float(eps) > 0.0f))
      throw Error(g.path() + ": opt.attention.layer_norm_epsilon = " + std::to_string(eps) +
                  ", expected a positive finite float");
    c.ln_eps = float(eps);
  }
  if (g.has("opt.vocab_size")) {
    c.vocab = read_positive_int(g, "opt.vocab_size");
  } else {
    const GgufTensorInfo* t = g.find_tensor("token_embd.weight");
    if (!t || t->dims.size() != 2)
      throw Error(g.path() + ": no opt.vocab_size and no 2-D tensor token_embd.weight to take the vocabulary from");
    if (t->dims[1] > uint64_t(std::numeric_limits<int32_t>::max()))
      throw Error(str(g.path(), ": token_embd.weight has ", t->dims[1], " rows, too many tokens"));
    c.vocab = int(t->dims[1]);
  }
  if (const GgufValue* toks = g.find("tokenizer.ggml.tokens"); toks && toks->items.size() > size_t(c.vocab))
    throw Error(str(g.path(), ": tokenizer.ggml.tokens has ", toks->items.size(),
                    " tokens, more than the vocabulary of ", c.vocab));
  c.validate(g.path());
  return c;
}

// ---------------------------------------------------------------- names and loading

std::string opt_gguf_to_hf_name(const std::string& n) { return hf_tensor_name(kOptLayers, n); }

OptModel OptModel::load_gguf(const std::string& path) {
  const GgufFile g = GgufFile::open(path);
  return from_weights(OptConfig::from_gguf(g), gguf_weight_source(g, kOptLayers));  // other tensors are ignored
}

OptModel OptModel::from_weights(const OptConfig& cfg, const WeightSource& src) {
  OptModel m;
  m.cfg_ = cfg;
  const BlockDims d = dims_of(cfg);
  m.load_embeddings(src, d, cfg.vocab);
  m.positions_ = src.load(std::string(kOptPositions.name) + ".weight", long(cfg.max_positions) + 2, d.hidden);
  m.load_blocks(src, d, cfg.n_layers);
  m.load_head(src, d, cfg.vocab, /*tied=*/false);  // tied when the source has no lm_head.weight
  return m;
}

}  // namespace sqsim
