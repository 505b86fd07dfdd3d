// Llama forward pass in the llama2.c spirit: one file, read top to bottom.
#include "sim/models/llama_model.h"

#include <cmath>
#include <limits>
#include <map>

#include "kernels/vecmath.h"
#include "base/error.h"

namespace sqsim {

namespace {

std::string S(long v) { return std::to_string(v); }


}  // namespace

// ---------------------------------------------------------------- config

LlamaConfig LlamaConfig::from_gguf(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "llama") throw Error(g.path() + ": architecture '" + arch + "' is not llama");
  LlamaConfig c;
  c.n_layers = int(g.get_int(arch + ".block_count"));
  c.hidden = int(g.get_int(arch + ".embedding_length"));
  c.n_heads = int(g.get_int(arch + ".attention.head_count"));
  c.n_kv_heads = g.has(arch + ".attention.head_count_kv") ? int(g.get_int(arch + ".attention.head_count_kv"))
                                                          : c.n_heads;
  c.ffn = int(g.get_int(arch + ".feed_forward_length"));
  c.context = g.has(arch + ".context_length") ? int(g.get_int(arch + ".context_length")) : 0;
  c.rms_eps = float(g.get_float(arch + ".attention.layer_norm_rms_epsilon"));
  c.rope_base = g.has(arch + ".rope.freq_base") ? float(g.get_float(arch + ".rope.freq_base")) : 10000.0f;
  if (g.has(arch + ".vocab_size")) {
    c.vocab = int(g.get_int(arch + ".vocab_size"));
  } else {
    c.vocab = int(g.get("tokenizer.ggml.tokens").items.size());
  }
  c.validate(g.path());
  if (g.has(arch + ".rope.dimension_count") && g.get_int(arch + ".rope.dimension_count") != c.head_dim)
    throw Error(g.path() + ": partial RoPE (rope.dimension_count != head dim) is not supported");
  return c;
}

void LlamaConfig::validate(const std::string& what) {
  LlamaConfig& c = *this;
  if (c.n_layers <= 0 || c.hidden <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.ffn <= 0 || c.vocab <= 0)
    throw Error(what + ": non-positive llama hyperparameter");
  if (c.hidden % c.n_heads != 0)
    throw Error(what + ": hidden size " + S(c.hidden) + " not a multiple of head count " + S(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error(what + ": head count " + S(c.n_heads) + " not a multiple of kv head count " + S(c.n_kv_heads));
  c.head_dim = c.hidden / c.n_heads;
  if (c.head_dim % 2 != 0) throw Error(what + ": odd head dimension " + S(c.head_dim));
  if (!(c.rms_eps > 0.0f) || !(c.rope_base > 0.0f)) throw Error(what + ": rms eps and rope base must be positive");
}

// ---------------------------------------------------------------- names

std::string gguf_to_hf_name(const std::string& n) {
  auto strip = [](std::string s) {
    const std::string suf = ".weight";
    if (s.size() > suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0)
      s.resize(s.size() - suf.size());
    return s;
  };
  const std::string b = strip(n);
  if (b == "token_embd") return "model.embed_tokens";
  if (b == "output") return "lm_head";
  if (b == "output_norm") return "model.norm";
  if (b.rfind("blk.", 0) == 0) {
    const size_t dot = b.find('.', 4);
    if (dot != std::string::npos) {
      const std::string idx = b.substr(4, dot - 4), rest = b.substr(dot + 1);
      const std::string p = "model.layers." + idx + ".";
      static const std::pair<const char*, const char*> map[] = {
          {"attn_q", "self_attn.q_proj"},    {"attn_k", "self_attn.k_proj"},
          {"attn_v", "self_attn.v_proj"},    {"attn_output", "self_attn.o_proj"},
          {"ffn_gate", "mlp.gate_proj"},     {"ffn_up", "mlp.up_proj"},
          {"ffn_down", "mlp.down_proj"},     {"attn_norm", "input_layernorm"},
          {"ffn_norm", "post_attention_layernorm"}};
      for (const auto& [g, h] : map)
        if (rest == g && !idx.empty() && idx.find_first_not_of("0123456789") == std::string::npos) return p + h;
    }
  }
  throw Error("gguf_to_hf_name: unknown tensor name '" + n + "'");
}

// ---------------------------------------------------------------- loading

LlamaModel LlamaModel::load_gguf(const std::string& path) {
  const GgufFile g = GgufFile::open(path);
  LlamaConfig c = LlamaConfig::from_gguf(g);
  c.rope_style = RopeStyle::Adjacent;  // the converter permuted the Q/K rows
  c.tied_embeddings = g.find_tensor("output.weight") == nullptr;
  // HF tensor name -> GGUF tensor name, from the tensors the file has.
  std::map<std::string, std::string> names;
  for (const GgufTensorInfo& t : g.tensors()) {
    try {
      names[gguf_to_hf_name(t.name) + ".weight"] = t.name;
    } catch (const Error&) {
      // tensors the model does not use (e.g. rope_freqs) are ignored
    }
  }
  WeightSource src;
  src.has = [&](const std::string& hf) { return names.count(hf) != 0; };
  src.load = [&](const std::string& hf, long rows, long cols) {
    const auto it = names.find(hf);
    const std::string name = it == names.end() ? hf : it->second;
    const GgufTensorInfo& t = g.tensor(name);  // throws naming the file when absent
    MatrixF w = g.load_tensor(name);
    if (w.rows() != rows || w.cols() != cols)
      throw Error(path + ": tensor " + name + " (" + t.type_name() + ") is [" + S(w.rows()) + " x " + S(w.cols()) +
                  "] (rows = out, cols = in), expected [" + S(rows) + " x " + S(cols) + "] from the config");
    return w;
  };
  return from_weights(c, src);
}

LlamaModel LlamaModel::from_weights(const LlamaConfig& cfg, const WeightSource& src) {
  LlamaModel m;
  m.cfg_ = cfg;
  const LlamaConfig& c = m.cfg_;
  auto lin = [&](const std::string& name, long rows, long cols) {
    return std::make_unique<FloatLinear>(src.load(name + ".weight", rows, cols));
  };
  auto vec = [&](const std::string& name, long n) {
    const MatrixF w = src.load(name, 1, n);
    return VectorF(Eigen::Map<const VectorF>(w.data(), n));
  };
  const long H = c.hidden, Q = long(c.n_heads) * c.head_dim, KV = long(c.n_kv_heads) * c.head_dim;
  m.embed_ = src.load("model.embed_tokens.weight", c.vocab, H);
  m.blocks_.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + S(l) + ".";
    LlamaBlock& b = m.blocks_[l];
    b.attn_norm = vec(p + "input_layernorm.weight", H);
    b.ffn_norm = vec(p + "post_attention_layernorm.weight", H);
    b.q = lin(p + "self_attn.q_proj", Q, H);
    b.k = lin(p + "self_attn.k_proj", KV, H);
    b.v = lin(p + "self_attn.v_proj", KV, H);
    b.o = lin(p + "self_attn.o_proj", H, Q);
    b.gate = lin(p + "mlp.gate_proj", c.ffn, H);
    b.up = lin(p + "mlp.up_proj", c.ffn, H);
    b.down = lin(p + "mlp.down_proj", H, c.ffn);
  }
  m.output_norm_ = vec("model.norm.weight", H);
  const bool own_head = !c.tied_embeddings && src.has("lm_head.weight");
  m.lm_head_ = std::make_unique<FloatLinear>(own_head ? src.load("lm_head.weight", c.vocab, H) : m.embed_);
  return m;
}

// ---------------------------------------------------------------- layer registry

std::vector<std::string> LlamaModel::linear_names() const {
  std::vector<std::string> out;
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const std::string p = "model.layers." + S(l) + ".";
    for (const char* s : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"})
      out.push_back(p + s);
  }
  out.push_back("lm_head");
  return out;
}

std::unique_ptr<LinearLayer>& LlamaModel::slot(const std::string& n) {
  if (n == "lm_head") return lm_head_;
  std::string rest;
  const int l = block_index(n, "model.layers.", cfg_.n_layers, &rest);
  if (l >= 0) {
    LlamaBlock& b = blocks_[l];
    if (rest == "self_attn.q_proj") return b.q;
    if (rest == "self_attn.k_proj") return b.k;
    if (rest == "self_attn.v_proj") return b.v;
    if (rest == "self_attn.o_proj") return b.o;
    if (rest == "mlp.gate_proj") return b.gate;
    if (rest == "mlp.up_proj") return b.up;
    if (rest == "mlp.down_proj") return b.down;
  }
  throw Error("no linear layer named '" + n + "' (expected e.g. model.layers.0.self_attn.q_proj or lm_head)");
}

const LinearLayer& LlamaModel::linear(const std::string& n) const {
  return *const_cast<LlamaModel*>(this)->slot(n);
}

std::unique_ptr<LinearLayer> LlamaModel::replace_linear(const std::string& n, std::unique_ptr<LinearLayer> layer) {
  return swap_linear(slot(n), std::move(layer), n);
}

std::vector<SmoothGroup> LlamaModel::smooth_groups() const {
  std::vector<SmoothGroup> out;
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const std::string p = "model.layers." + S(l) + ".";
    out.push_back({p + "input_layernorm", {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}});
    out.push_back({p + "post_attention_layernorm", {p + "mlp.gate_proj", p + "mlp.up_proj"}});
  }
  return out;
}

VectorF& LlamaModel::norm_slot(const std::string& n) {
  if (n == "model.norm") return output_norm_;
  std::string rest;
  const int l = block_index(n, "model.layers.", cfg_.n_layers, &rest);
  if (l >= 0) {
    if (rest == "input_layernorm") return blocks_[l].attn_norm;
    if (rest == "post_attention_layernorm") return blocks_[l].ffn_norm;
  }
  throw Error("no norm named '" + n + "' (expected e.g. model.layers.0.input_layernorm or model.norm)");
}

void LlamaModel::divide_norm(const std::string& n, const VectorF& divisor) {
  VectorF& w = norm_slot(n);
  if (divisor.size() != w.size())
    throw Error("divide_norm " + n + ": divisor has " + S(divisor.size()) + " entries, norm has " + S(w.size()));
  w.array() /= divisor.array();
}

// ---------------------------------------------------------------- pieces

MatrixF rms_norm(const MatrixF& x, const VectorF& w, float eps) {
  if (w.size() != x.cols()) throw Error("rms_norm: weight size " + S(w.size()) + " != " + S(x.cols()));
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

void check_rope_table(const RopeTable& r, long rows, int half) {
  if (r.cos.rows() < rows || r.cos.cols() != half || r.sin.rows() != r.cos.rows() || r.sin.cols() != half)
    throw Error("rope: table is [" + S(r.cos.rows()) + " x " + S(r.cos.cols()) + "], need at least [" + S(rows) +
                " x " + S(half) + "]");
}

// Rotates pair i of every head by the angle of its position: the pair is
// (2i, 2i + 1) when kAdjacent (GGUF's interleaved layout), else (i, i + half)
// (Hugging Face's rotate_half).
template <bool kAdjacent>
void apply_rope(MatrixF& x, int n_heads, int head_dim, const RopeTable& r) {
  if (x.cols() != long(n_heads) * head_dim) throw Error("rope: width mismatch");
  const int half = head_dim / 2;
  check_rope_table(r, x.rows(), half);
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

void apply_rope_adjacent(MatrixF& x, int n_heads, int head_dim, const RopeTable& r) {
  apply_rope<true>(x, n_heads, head_dim, r);
}

void apply_rope_adjacent(MatrixF& x, int n_heads, int head_dim, float base, int pos0) {
  apply_rope_adjacent(x, n_heads, head_dim, rope_table(x.rows(), head_dim, base, pos0));
}

void apply_rope_half(MatrixF& x, int n_heads, int head_dim, const RopeTable& r) {
  apply_rope<false>(x, n_heads, head_dim, r);
}

void apply_rope_half(MatrixF& x, int n_heads, int head_dim, float base, int pos0) {
  apply_rope_half(x, n_heads, head_dim, rope_table(x.rows(), head_dim, base, pos0));
}

// ---------------------------------------------------------------- forward

MatrixF LlamaModel::forward(const std::vector<int32_t>& tokens) const {
  const LlamaConfig& c = cfg_;
  const long T = long(tokens.size());
  if (T == 0) throw Error("forward: empty token window");
  MatrixF x(T, c.hidden);
  for (long t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab)
      throw Error("forward: token id " + S(tokens[t]) + " outside the vocabulary of " + S(c.vocab));
    x.row(t) = embed_.row(tokens[t]);
  }
  const RopeTable rope = rope_table(T, c.head_dim, c.rope_base);  // once, not per layer
  for (int l = 0; l < c.n_layers; ++l) {
    const LlamaBlock& b = blocks_[l];
    // attention
    const MatrixF xn = rms_norm(x, b.attn_norm, c.rms_eps);
    MatrixF q = b.q->forward(xn), k = b.k->forward(xn);
    const MatrixF v = b.v->forward(xn);
    if (c.rope_style == RopeStyle::Half) {
      apply_rope_half(q, c.n_heads, c.head_dim, rope);
      apply_rope_half(k, c.n_kv_heads, c.head_dim, rope);
    } else {
      apply_rope_adjacent(q, c.n_heads, c.head_dim, rope);
      apply_rope_adjacent(k, c.n_kv_heads, c.head_dim, rope);
    }
    const MatrixF att = causal_attention(q, k, v, c.n_heads, c.n_kv_heads, c.head_dim, attention_matmuls, l);
    x += b.o->forward(att);
    // feed-forward (SwiGLU)
    const MatrixF hn = rms_norm(x, b.ffn_norm, c.rms_eps);
    MatrixF gate = b.gate->forward(hn);
    const MatrixF up = b.up->forward(hn);
    kernels::silu_mul(gate.data(), up.data(), gate.size());  // SiLU(gate) * up
    x += b.down->forward(gate);
  }
  return lm_head_->forward(rms_norm(x, output_norm_, c.rms_eps));
}

// ---------------------------------------------------------------- tokenizer

BpeTokenizer tokenizer_from_gguf(const GgufFile& g) {
  std::vector<std::string> tokens = g.get_string_array("tokenizer.ggml.tokens");
  const std::vector<std::string> merges =
      g.has("tokenizer.ggml.merges") ? g.get_string_array("tokenizer.ggml.merges") : std::vector<std::string>{};
  const std::string pre = g.has("tokenizer.ggml.pre") ? g.get_string("tokenizer.ggml.pre") : "gpt2";
  std::vector<std::string> specials;
  if (g.has("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = g.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != tokens.size())
      throw Error(g.path() + ": tokenizer.ggml.token_type has " + S(types.size()) + " entries for " +
                  S(tokens.size()) + " tokens");
    for (size_t i = 0; i < types.size(); ++i)
      if (types[i] == 3 || types[i] == 4) specials.push_back(tokens[i]);
  }
  return BpeTokenizer(std::move(tokens), merges, pre, specials);
}

bool gguf_adds_bos(const GgufFile& g, int32_t* bos) {
  if (!g.has("tokenizer.ggml.add_bos_token") || !g.get_bool("tokenizer.ggml.add_bos_token")) return false;
  if (bos) *bos = int32_t(g.get_int("tokenizer.ggml.bos_token_id"));
  return true;
}

}  // namespace sqsim
