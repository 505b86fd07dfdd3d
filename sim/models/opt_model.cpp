// OPT forward pass, read top to bottom (see opt_model.h for the math).
#include "sim/models/opt_model.h"

#include <cmath>
#include <limits>
#include <map>

#include "base/error.h"

namespace sqsim {

namespace {
std::string S(long v) { return std::to_string(v); }

}  // namespace

void OptConfig::validate(const std::string& what) {
  if (n_layers <= 0 || hidden <= 0 || n_heads <= 0 || ffn <= 0 || vocab <= 0 || max_positions <= 0)
    throw Error(what + ": non-positive opt hyperparameter");
  if (hidden % n_heads != 0)
    throw Error(what + ": hidden size " + S(hidden) + " not a multiple of head count " + S(n_heads));
  head_dim = hidden / n_heads;
  if (!(ln_eps > 0.0f)) throw Error(what + ": layer norm eps must be positive");
}

// ---------------------------------------------------------------- GGUF

namespace {
// A required (or, with `fallback` >= 0, optional) positive int key.
int gguf_positive_int(const GgufFile& g, const std::string& key, long fallback = -1) {
  if (fallback >= 0 && !g.has(key)) return int(fallback);
  const int64_t v = g.get_int(key);  // throws naming the file and key when missing or not an integer
  if (v <= 0 || v > std::numeric_limits<int32_t>::max())
    throw Error(g.path() + ": " + key + " = " + std::to_string(v) + ", expected a positive 32-bit integer");
  return int(v);
}
}  // namespace

OptConfig OptConfig::from_gguf(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "opt") throw Error(g.path() + ": architecture '" + arch + "' is not opt");
  OptConfig c;
  c.n_layers = gguf_positive_int(g, "opt.block_count");
  c.hidden = gguf_positive_int(g, "opt.embedding_length");
  c.n_heads = gguf_positive_int(g, "opt.attention.head_count");
  c.ffn = gguf_positive_int(g, "opt.feed_forward_length");
  c.max_positions = gguf_positive_int(g, "opt.context_length");
  if (c.max_positions > std::numeric_limits<int32_t>::max() - 2)
    throw Error(g.path() + ": opt.context_length " + S(c.max_positions) + " is too large");
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
    c.vocab = gguf_positive_int(g, "opt.vocab_size");
  } else {
    const GgufTensorInfo* t = g.find_tensor("token_embd.weight");
    if (!t || t->dims.size() != 2)
      throw Error(g.path() + ": no opt.vocab_size and no 2-D tensor token_embd.weight to take the vocabulary from");
    if (t->dims[1] > uint64_t(std::numeric_limits<int32_t>::max()))
      throw Error(g.path() + ": token_embd.weight has " + std::to_string(t->dims[1]) + " rows, too many tokens");
    c.vocab = int(t->dims[1]);
  }
  if (const GgufValue* toks = g.find("tokenizer.ggml.tokens"); toks && toks->items.size() > size_t(c.vocab))
    throw Error(g.path() + ": tokenizer.ggml.tokens has " + S(long(toks->items.size())) +
                " tokens, more than the vocabulary of " + S(c.vocab));
  c.validate(g.path());
  return c;
}

std::string opt_gguf_to_hf_name(const std::string& n) {
  std::string base = n, suffix;
  for (const char* s : {".weight", ".bias"}) {
    const std::string suf = s;
    if (n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0) {
      base = n.substr(0, n.size() - suf.size());
      suffix = suf;
    }
  }
  if (suffix == ".weight") {
    if (base == "token_embd") return "model.decoder.embed_tokens.weight";
    if (base == "position_embd") return "model.decoder.embed_positions.weight";
    if (base == "output") return "lm_head.weight";
  }
  if (!suffix.empty()) {
    if (base == "output_norm") return "model.decoder.final_layer_norm" + suffix;
    if (base.rfind("blk.", 0) == 0) {
      const size_t dot = base.find('.', 4);
      const std::string idx = dot == std::string::npos ? "" : base.substr(4, dot - 4);
      if (!idx.empty() && idx.size() <= 5 && idx.find_first_not_of("0123456789") == std::string::npos) {
        static const std::pair<const char*, const char*> map[] = {
            {"attn_norm", "self_attn_layer_norm"}, {"attn_q", "self_attn.q_proj"},
            {"attn_k", "self_attn.k_proj"},        {"attn_v", "self_attn.v_proj"},
            {"attn_output", "self_attn.out_proj"}, {"ffn_norm", "final_layer_norm"},
            {"ffn_up", "fc1"},                     {"ffn_down", "fc2"}};
        const std::string rest = base.substr(dot + 1);
        for (const auto& [g, h] : map)
          if (rest == g) return "model.decoder.layers." + std::to_string(std::stoi(idx)) + "." + h + suffix;
      }
    }
  }
  throw Error("opt_gguf_to_hf_name: unknown tensor name '" + n + "'");
}

OptModel OptModel::load_gguf(const std::string& path) {
  const GgufFile g = GgufFile::open(path);
  const OptConfig c = OptConfig::from_gguf(g);
  // HF name -> GGUF name for every tensor the model reads (others in the file are ignored).
  std::map<std::string, std::string> names;
  std::vector<std::string> wanted = {"token_embd.weight", "position_embd.weight", "output.weight",
                                     "output_norm.weight", "output_norm.bias"};
  for (int l = 0; l < c.n_layers; ++l)
    for (const char* t : {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_up", "ffn_down"})
      for (const char* suf : {".weight", ".bias"}) wanted.push_back("blk." + S(l) + "." + t + suf);
  for (const std::string& n : wanted) names[opt_gguf_to_hf_name(n)] = n;
  WeightSource src;
  src.has = [&](const std::string& hf) { return names.count(hf) && g.find_tensor(names.at(hf)) != nullptr; };
  src.load = [&](const std::string& hf, long rows, long cols) {
    const auto it = names.find(hf);
    if (it == names.end()) throw Error(path + ": opt tensor " + hf + " has no GGUF name");  // not reached
    const std::string want = rows == 1 ? "[" + S(cols) + "]" : "[" + S(rows) + " x " + S(cols) + "]";
    const GgufTensorInfo* tp = g.find_tensor(it->second);
    if (!tp) throw Error(path + ": missing tensor " + it->second + " (" + hf + ", " + want + ")");
    const GgufTensorInfo& t = *tp;
    std::string have;
    for (size_t i = t.dims.size(); i-- > 0;) have += (have.empty() ? "" : " x ") + std::to_string(t.dims[i]);
    const bool shape_ok = rows == 1 ? t.dims.size() == 1 && t.dims[0] == uint64_t(cols)
                                    : t.dims.size() == 2 && t.dims[0] == uint64_t(cols) && t.dims[1] == uint64_t(rows);
    if (!shape_ok)
      throw Error(path + ": tensor " + t.name + " (" + t.type_name() + ") is [" + have +
                  "] (outer dimension first), expected " + want + " from the opt.* metadata");
    return g.load_tensor(t.name);
  };
  return from_weights(c, src);
}

OptModel OptModel::from_weights(const OptConfig& cfg, const WeightSource& src) {
  OptModel m;
  m.cfg_ = cfg;
  const OptConfig& c = m.cfg_;
  const long H = c.hidden;
  auto vec = [&](const std::string& name, long n) {
    const MatrixF w = src.load(name, 1, n);
    return VectorF(Eigen::Map<const VectorF>(w.data(), n));
  };
  auto ln = [&](const std::string& p) { return LayerNormWeights{vec(p + ".weight", H), vec(p + ".bias", H)}; };
  auto lin = [&](const std::string& p, long out, long in) {
    return std::make_unique<FloatLinear>(src.load(p + ".weight", out, in), vec(p + ".bias", out));
  };
  m.embed_ = src.load("model.decoder.embed_tokens.weight", c.vocab, H);
  m.positions_ = src.load("model.decoder.embed_positions.weight", long(c.max_positions) + 2, H);
  m.blocks_.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.decoder.layers." + S(l) + ".";
    OptBlock& b = m.blocks_[l];
    b.attn_ln = ln(p + "self_attn_layer_norm");
    b.ffn_ln = ln(p + "final_layer_norm");
    b.q = lin(p + "self_attn.q_proj", H, H);
    b.k = lin(p + "self_attn.k_proj", H, H);
    b.v = lin(p + "self_attn.v_proj", H, H);
    b.o = lin(p + "self_attn.out_proj", H, H);
    b.fc1 = lin(p + "fc1", c.ffn, H);
    b.fc2 = lin(p + "fc2", H, c.ffn);
  }
  m.final_ln_ = ln("model.decoder.final_layer_norm");
  m.lm_head_ =
      std::make_unique<FloatLinear>(src.has("lm_head.weight") ? src.load("lm_head.weight", c.vocab, H) : m.embed_);
  return m;
}

MatrixF layer_norm(const MatrixF& x, const VectorF& w, const VectorF& b, float eps) {
  if (w.size() != x.cols() || b.size() != x.cols())
    throw Error("layer_norm: weight/bias size " + S(w.size()) + "/" + S(b.size()) + " != " + S(x.cols()));
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

MatrixF OptModel::forward(const std::vector<int32_t>& tokens) const {
  const OptConfig& c = cfg_;
  const long T = long(tokens.size());
  if (T == 0) throw Error("forward: empty token window");
  if (T > c.max_positions)
    throw Error("forward: window of " + S(T) + " tokens exceeds max_position_embeddings " + S(c.max_positions));
  MatrixF x(T, c.hidden);
  for (long t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab)
      throw Error("forward: token id " + S(tokens[t]) + " outside the vocabulary of " + S(c.vocab));
    x.row(t) = embed_.row(tokens[t]) + positions_.row(t + 2);  // OPT's position offset
  }
  for (int l = 0; l < c.n_layers; ++l) {
    const OptBlock& b = blocks_[l];
    const MatrixF xn = layer_norm(x, b.attn_ln.weight, b.attn_ln.bias, c.ln_eps);
    const MatrixF q = b.q->forward(xn), k = b.k->forward(xn), v = b.v->forward(xn);
    const MatrixF att = causal_attention(q, k, v, c.n_heads, c.n_heads, c.head_dim, attention_matmuls, l);
    x += b.o->forward(att);
    const MatrixF hn = layer_norm(x, b.ffn_ln.weight, b.ffn_ln.bias, c.ln_eps);
    const MatrixF h = b.fc1->forward(hn).cwiseMax(0.0f);  // ReLU
    x += b.fc2->forward(h);
  }
  return lm_head_->forward(layer_norm(x, final_ln_.weight, final_ln_.bias, c.ln_eps));
}

std::vector<std::string> OptModel::linear_names() const {
  std::vector<std::string> out;
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const std::string p = "model.decoder.layers." + S(l) + ".";
    for (const char* s : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "fc1",
                          "fc2"})
      out.push_back(p + s);
  }
  out.push_back("lm_head");
  return out;
}

std::unique_ptr<LinearLayer>& OptModel::slot(const std::string& n) {
  if (n == "lm_head") return lm_head_;
  std::string rest;
  const int l = block_index(n, "model.decoder.layers.", cfg_.n_layers, &rest);
  if (l >= 0) {
    OptBlock& b = blocks_[l];
    if (rest == "self_attn.q_proj") return b.q;
    if (rest == "self_attn.k_proj") return b.k;
    if (rest == "self_attn.v_proj") return b.v;
    if (rest == "self_attn.out_proj") return b.o;
    if (rest == "fc1") return b.fc1;
    if (rest == "fc2") return b.fc2;
  }
  throw Error("no linear layer named '" + n + "' (expected e.g. model.decoder.layers.0.self_attn.q_proj or lm_head)");
}

const LinearLayer& OptModel::linear(const std::string& n) const { return *const_cast<OptModel*>(this)->slot(n); }

std::unique_ptr<LinearLayer> OptModel::replace_linear(const std::string& n, std::unique_ptr<LinearLayer> layer) {
  return swap_linear(slot(n), std::move(layer), n);
}

std::vector<SmoothGroup> OptModel::smooth_groups() const {
  std::vector<SmoothGroup> out;
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const std::string p = "model.decoder.layers." + S(l) + ".";
    out.push_back(
        {p + "self_attn_layer_norm", {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}});
    out.push_back({p + "final_layer_norm", {p + "fc1"}});
  }
  return out;
}

LayerNormWeights& OptModel::norm_slot(const std::string& n) {
  if (n == "model.decoder.final_layer_norm") return final_ln_;
  std::string rest;
  const int l = block_index(n, "model.decoder.layers.", cfg_.n_layers, &rest);
  if (l >= 0) {
    if (rest == "self_attn_layer_norm") return blocks_[l].attn_ln;
    if (rest == "final_layer_norm") return blocks_[l].ffn_ln;
  }
  throw Error("no norm named '" + n +
              "' (expected e.g. model.decoder.layers.0.self_attn_layer_norm or model.decoder.final_layer_norm)");
}

void OptModel::divide_norm(const std::string& n, const VectorF& divisor) {
  LayerNormWeights& w = norm_slot(n);
  if (divisor.size() != w.weight.size())
    throw Error("divide_norm " + n + ": divisor has " + S(divisor.size()) + " entries, norm has " +
                S(w.weight.size()));
  w.weight.array() /= divisor.array();
  w.bias.array() /= divisor.array();
}

}  // namespace sqsim
