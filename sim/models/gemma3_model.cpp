// Gemma 3 forward pass: the weights as one table, the forward read top to
// bottom, then config (GGUF and config.json), loading and the pieces.
#include "sim/models/gemma3_model.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>

#include "base/error.h"
#include "base/str.h"
#include "sim/formats/gguf_dequant.h"
#include "sim/formats/json.h"
#include "sim/formats/safetensors_file.h"
#include "sim/models/llama_model.h"

namespace sqsim {

// ---------------------------------------------------------------- weights

namespace {

// Per block, in forward order. GGUF names as llama.cpp's converter writes them.
// The two post-norms scale a sub-layer's output, which no linear layer reads:
// they are no smoothing group (docs/quantization.md, "Gemma 3").
constexpr NormSlot<Gemma3Block> kGemma3Norms[] = {
    {"input_layernorm", "attn_norm", &Gemma3Block::attn_norm, Dim::kHidden},
    {"post_attention_layernorm", "post_attention_norm", &Gemma3Block::post_attn_norm, Dim::kHidden},
    {"pre_feedforward_layernorm", "ffn_norm", &Gemma3Block::ffn_norm, Dim::kHidden},
    {"post_feedforward_layernorm", "post_ffw_norm", &Gemma3Block::post_ffn_norm, Dim::kHidden},
};
constexpr LinearSlot<Gemma3Block> kGemma3Linears[] = {
    // name               gguf           slot                out          in           reads the norm
    {"self_attn.q_proj", "attn_q", &Gemma3Block::q, Dim::kQ, Dim::kHidden, &Gemma3Block::attn_norm},
    {"self_attn.k_proj", "attn_k", &Gemma3Block::k, Dim::kKv, Dim::kHidden, &Gemma3Block::attn_norm},
    {"self_attn.v_proj", "attn_v", &Gemma3Block::v, Dim::kKv, Dim::kHidden, &Gemma3Block::attn_norm},
    {"self_attn.o_proj", "attn_output", &Gemma3Block::o, Dim::kHidden, Dim::kQ, nullptr},
    {"mlp.gate_proj", "ffn_gate", &Gemma3Block::gate, Dim::kFfn, Dim::kHidden, &Gemma3Block::ffn_norm},
    {"mlp.up_proj", "ffn_up", &Gemma3Block::up, Dim::kFfn, Dim::kHidden, &Gemma3Block::ffn_norm},
    {"mlp.down_proj", "ffn_down", &Gemma3Block::down, Dim::kHidden, Dim::kFfn, nullptr},
};
constexpr LayerTable<Gemma3Block> kGemma3Layers = {
    "gemma3",
    "model.layers.",
    kGemma3Norms,
    kGemma3Linears,
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
    {},
    /*biases=*/false,
};
// The per-head q/k norms ([head_dim]) sit outside the table, whose sizes are
// the block's widths; their names in both formats:
constexpr const char* kQNorm[] = {"self_attn.q_norm", "attn_q_norm"};
constexpr const char* kKNorm[] = {"self_attn.k_norm", "attn_k_norm"};

BlockDims dims_of(const Gemma3Config& c) {
  return {c.hidden, long(c.n_heads) * c.head_dim, long(c.n_kv_heads) * c.head_dim, c.ffn};
}

// cos/sin of positions 0..rows-1 with RoPE base `base`, positions divided by
// `factor` (linear scaling; 1 = none).
RopeTable gemma_rope_table(long rows, int head_dim, float base, float factor) {
  RopeTable r = rope_table(rows, head_dim, base);
  if (factor == 1.0f) return r;
  const int half = head_dim / 2;
  for (long t = 0; t < rows; ++t)
    for (int i = 0; i < half; ++i) {
      const double a = double(t) * std::pow(double(base), -2.0 * i / head_dim) / double(factor);
      r.cos(t, i) = float(std::cos(a));
      r.sin(t, i) = float(std::sin(a));
    }
  return r;
}

}  // namespace

Gemma3Model::Gemma3Model() : TableModel(kGemma3Layers) {}

// ---------------------------------------------------------------- forward

MatrixF Gemma3Model::forward(const std::vector<int32_t>& tokens) const { return forward_windows({{tokens, 0}}); }

// As Llama's: all windows' rows through the norms and linear layers
// together, RoPE and attention window by window.
MatrixF Gemma3Model::hidden_windows(const std::vector<Window>& windows) const {
  const Gemma3Config& c = cfg_;
  const StackedRows rows = stack_windows(windows, c.vocab);
  // token embeddings times sqrt(hidden), rounded as the config says
  const float normalizer = c.normalizer > 0.0f ? c.normalizer : float(std::sqrt(double(c.hidden)));
  MatrixF x(rows.total, c.hidden);
  for (size_t w = 0; w < windows.size(); ++w)
    for (long t = 0; t < rows.size[w]; ++t)
      x.row(rows.start[w] + t) = embed_.row(windows[w].tokens[size_t(t)]) * normalizer;
  // RoPE tables of the local and the global layers, once for all layers
  const RopeTable rope_local = gemma_rope_table(rows.longest, c.head_dim, c.rope_local_base, 1.0f);
  const RopeTable rope_global = gemma_rope_table(rows.longest, c.head_dim, c.rope_global_base, c.rope_global_factor);
  auto rope = [&](MatrixF& x, int heads, long pos0, const RopeTable& all) {
    const RopeTable from{all.cos.middleRows(pos0, x.rows()), all.sin.middleRows(pos0, x.rows())};
    apply_rope(x, heads, c.head_dim, from, RopeStyle::Half);
  };
  for (int l = 0; l < c.n_layers; ++l) {
    const Gemma3Block& b = blocks_[size_t(l)];
    const bool local = c.sliding[size_t(l)];
    AttentionOptions opt;
    opt.scale = 1.0f / std::sqrt(c.query_pre_attn_scalar);
    opt.window = local ? c.sliding_window : 0;
    opt.softcap = c.attn_softcap;
    // attention rmsnorm, q, k, v projections
    const MatrixF xn = rms_norm(x, b.attn_norm.weight, c.rms_eps);
    const MatrixF q = b.q->forward(xn), k = b.k->forward(xn), v = b.v->forward(xn);
    const MatrixF att = attend_by_window(
        rows, q, k, v,
        [&](MatrixF& qw, MatrixF& kw, MatrixF& vw, long pos0) {
          // per-head q/k norms, then the BMM hook (its inputs up to RoPE's
          // rotation), then RoPE with the layer type's base
          rms_norm_heads(qw, c.head_dim, b.q_norm, c.rms_eps);
          rms_norm_heads(kw, c.head_dim, b.k_norm, c.rms_eps);
          attention_matmuls.on_projections(l, qw, kw, vw, c.head_dim);
          rope(qw, c.n_heads, pos0, local ? rope_local : rope_global);
          rope(kw, c.n_kv_heads, pos0, local ? rope_local : rope_global);
        },
        [&](const MatrixF& qw, const MatrixF& kw, const MatrixF& vw) {
          return causal_attention(qw, kw, vw, c.n_heads, c.n_kv_heads, c.head_dim, opt, attention_matmuls, l);
        });
    // output projection, post-attention norm, residual
    x += rms_norm(b.o->forward(att), b.post_attn_norm.weight, c.rms_eps);
    // pre-feed-forward norm, GeGLU: down(gelu_tanh(gate(h)) * up(h)), post-norm, residual
    const MatrixF hn = rms_norm(x, b.ffn_norm.weight, c.rms_eps);
    MatrixF gate = b.gate->forward(hn);
    const MatrixF up = b.up->forward(hn);
    gelu_tanh_mul(gate.data(), up.data(), gate.size());
    x += rms_norm(b.down->forward(gate), b.post_ffn_norm.weight, c.rms_eps);
  }
  // final norm (classifier and soft-capping: project_rows)
  return rms_norm(logit_rows(x, rows, windows), final_norm_.weight, c.rms_eps);
}

MatrixF Gemma3Model::project_rows(const MatrixF& hidden) const {
  const Gemma3Config& c = cfg_;
  MatrixF logits = lm_head_->forward(hidden);
  if (c.final_softcap > 0.0f)
    for (long i = 0; i < logits.size(); ++i)
      logits.data()[i] = std::tanh(logits.data()[i] / c.final_softcap) * c.final_softcap;
  return logits;
}

// ---------------------------------------------------------------- config

void Gemma3Config::validate(const std::string& what) const {
  const Gemma3Config& c = *this;
  if (c.n_layers <= 0 || c.hidden <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0 || c.ffn <= 0 ||
      c.vocab <= 0)
    throw Error(what + ": non-positive gemma3 hyperparameter");
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error(str(what, ": head count ", c.n_heads, " not a multiple of kv head count ", c.n_kv_heads));
  if (c.head_dim % 2 != 0) throw Error(str(what, ": odd head dimension ", c.head_dim));
  if (!(c.rms_eps > 0.0f) || !(c.rope_global_base > 0.0f) || !(c.rope_local_base > 0.0f) ||
      !(c.rope_global_factor > 0.0f) || !(c.query_pre_attn_scalar > 0.0f))
    throw Error(what + ": rms eps, rope bases, rope factor and query_pre_attn_scalar must be positive");
  if (!(c.final_softcap >= 0.0f) || !(c.attn_softcap >= 0.0f))
    throw Error(what + ": soft-capping values must be positive (or absent)");
  if (c.sliding.size() != size_t(c.n_layers))
    throw Error(str(what, ": ", c.sliding.size(), " layer types for ", c.n_layers, " layers"));
  for (bool s : c.sliding)
    if (s && c.sliding_window <= 0) throw Error(what + ": a sliding-window layer needs a positive sliding_window");
}

namespace {

std::vector<bool> every_nth_global(int n_layers, int pattern) {
  std::vector<bool> s(size_t(n_layers), true);
  for (int i = 0; i < n_layers; ++i) s[size_t(i)] = (i + 1) % pattern != 0;
  return s;
}

}  // namespace

Gemma3Config Gemma3Config::from_gguf(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "gemma3") throw Error(g.path() + ": architecture '" + arch + "' is not gemma3");
  Gemma3Config c;
  c.n_layers = read_positive_int(g, "gemma3.block_count");
  c.hidden = read_positive_int(g, "gemma3.embedding_length");
  c.n_heads = read_positive_int(g, "gemma3.attention.head_count");
  c.n_kv_heads = read_positive_int(g, "gemma3.attention.head_count_kv", c.n_heads);
  c.head_dim = read_positive_int(g, "gemma3.attention.key_length");
  if (g.has("gemma3.attention.value_length") && g.get_int("gemma3.attention.value_length") != c.head_dim)
    throw Error(g.path() + ": gemma3.attention.value_length differs from key_length, which is not supported");
  c.ffn = read_positive_int(g, "gemma3.feed_forward_length");
  c.context = read_positive_int(g, "gemma3.context_length", 0);
  c.rms_eps = float(g.get_float("gemma3.attention.layer_norm_rms_epsilon"));
  c.rope_global_base = g.has("gemma3.rope.freq_base") ? float(g.get_float("gemma3.rope.freq_base")) : 1000000.0f;
  c.sliding_window = read_positive_int(g, "gemma3.attention.sliding_window");
  c.query_pre_attn_scalar = float(c.head_dim);
  c.sliding = every_nth_global(c.n_layers, 6);
  if (g.has("gemma3.rope.scaling.type")) {
    const std::string t = g.get_string("gemma3.rope.scaling.type");
    if (t == "linear")
      c.rope_global_factor = float(g.get_float("gemma3.rope.scaling.factor"));
    else if (t != "none")
      throw Error(g.path() + ": gemma3.rope.scaling.type '" + t + "' is not supported (none or linear)");
  }
  for (const char* k : {"gemma3.final_logit_softcapping", "gemma3.attn_logit_softcapping"})
    if (g.has(k)) (std::string(k).find("final") != std::string::npos ? c.final_softcap : c.attn_softcap) =
                      float(g.get_float(k));
  c.vocab = g.has("gemma3.vocab_size") ? read_positive_int(g, "gemma3.vocab_size")
                                       : int(g.get("tokenizer.ggml.tokens").items.size());
  c.tied_embeddings = g.find_tensor("output.weight") == nullptr;
  c.validate(g.path());
  return c;
}

namespace {

bool present(const JsonValue& c, const std::string& key) {
  const JsonValue* v = c.find(key);
  return v && !v->is_null();
}
int pos_int(const JsonValue& c, const std::string& key, const std::string& what) {
  const int64_t v = json_int(c, key, what);
  if (v <= 0 || v > (int64_t(1) << 30)) throw Error(str(what, ": \"", key, "\" must be a positive integer, got ", v));
  return int(v);
}
float opt_number(const JsonValue& c, const std::string& key, float dflt, const std::string& what) {
  return present(c, key) ? float(json_number(c, key, what)) : dflt;
}
bool opt_bool(const JsonValue& c, const std::string& key, bool dflt, const std::string& what) {
  return present(c, key) ? json_bool(c, key, what) : dflt;
}

// One layer type's RoPE parameters {"rope_type", "rope_theta", "factor"}:
// default, or linear where `linear_ok`.
void read_rope(const JsonValue& r, const std::string& key, bool linear_ok, float* base, float* factor,
               const std::string& what) {
  if (!r.is_object()) throw Error(what + ": \"" + key + "\" must be an object");
  const char* tk = r.find("rope_type") ? "rope_type" : "type";
  const std::string t = present(r, tk) ? json_string(r, tk, what + " " + key) : "default";
  if (present(r, "rope_theta")) *base = float(json_number(r, "rope_theta", what + " " + key));
  if (t == "linear" && linear_ok) {
    *factor = float(json_number(r, "factor", what + " " + key));
  } else if (t != "default") {
    throw Error(what + ": \"" + key + "\" " + tk + " \"" + t + "\" is not supported (default" +
                (linear_ok ? " or linear)" : ")"));
  }
}

}  // namespace

Gemma3Config Gemma3Config::from_hf(const JsonValue& root, const std::string& what) {
  const std::string type = json_string(root, "model_type", what);
  // The multimodal "gemma3" config nests the text model's under text_config.
  const JsonValue& cfg = type == "gemma3" ? json_member(root, "text_config", what) : root;
  const std::string w = type == "gemma3" ? what + " text_config" : what;
  if (!cfg.is_object()) throw Error(w + ": must be an object");
  Gemma3Config c;
  c.hidden = pos_int(cfg, "hidden_size", w);
  c.n_layers = pos_int(cfg, "num_hidden_layers", w);
  c.n_heads = pos_int(cfg, "num_attention_heads", w);
  c.n_kv_heads = present(cfg, "num_key_value_heads") ? pos_int(cfg, "num_key_value_heads", w) : c.n_heads;
  c.head_dim = present(cfg, "head_dim") ? pos_int(cfg, "head_dim", w) : 256;  // HF's defaults, here and below
  c.ffn = pos_int(cfg, "intermediate_size", w);
  c.vocab = pos_int(cfg, "vocab_size", w);
  c.context = present(cfg, "max_position_embeddings") ? pos_int(cfg, "max_position_embeddings", w) : 0;
  c.rms_eps = opt_number(cfg, "rms_norm_eps", 1e-6f, w);
  c.query_pre_attn_scalar = opt_number(cfg, "query_pre_attn_scalar", 256.0f, w);
  c.final_softcap = opt_number(cfg, "final_logit_softcapping", 0.0f, w);
  // Gemma 3 replaced Gemma 2's score capping by the q/k norms: transformers'
  // Gemma3Attention never applies attn_logit_softcapping (llama.cpp's
  // converter asserts it is null), so a value there is refused, not guessed.
  if (present(cfg, "attn_logit_softcapping"))
    throw Error(w + ": \"attn_logit_softcapping\" must be null (Gemma 3 does not cap attention scores)");
  // transformers multiplies by embed_scale.to(weight dtype): the model's dtype
  // (the first of dtype, torch_dtype in the text config, then at the top)
  std::string dk, dtype = "float32";
  for (const JsonValue* o : {&cfg, &root})
    for (const char* k : {"dtype", "torch_dtype"})
      if (dk.empty() && present(*o, k)) dk = k, dtype = json_string(*o, k, what);
  const float sq = float(std::sqrt(double(c.hidden)));
  if (dtype == "bfloat16")
    c.normalizer = bf16_to_float(float_to_bf16(sq));
  else if (dtype == "float16")
    c.normalizer = fp16_to_float(float_to_fp16(sq));
  else if (dtype == "float32")
    c.normalizer = sq;
  else
    throw Error(w + ": \"" + dk + "\" \"" + dtype + "\" is not supported (float32, bfloat16 or float16)");
  c.tied_embeddings = opt_bool(root, "tie_word_embeddings", opt_bool(cfg, "tie_word_embeddings", true, w), what);
  // sliding window: null would make every "sliding" layer global in HF; refused rather than guessed
  if (cfg.find("sliding_window") && cfg.find("sliding_window")->is_null())
    throw Error(w + ": \"sliding_window\" null is not supported");
  c.sliding_window = present(cfg, "sliding_window") ? pos_int(cfg, "sliding_window", w) : 4096;
  if (present(cfg, "layer_types")) {
    const JsonValue& lt = json_member(cfg, "layer_types", w);
    if (!lt.is_array()) throw Error(w + ": \"layer_types\" must be an array");
    for (const JsonValue& t : lt.array) {
      if (!t.is_string() || (t.string != "sliding_attention" && t.string != "full_attention"))
        throw Error(w + ": \"layer_types\" entries must be \"sliding_attention\" or \"full_attention\"");
      c.sliding.push_back(t.string == "sliding_attention");
    }
  } else {
    const int pattern = present(cfg, "sliding_window_pattern") ? pos_int(cfg, "sliding_window_pattern", w) : 6;
    c.sliding = every_nth_global(c.n_layers, pattern);
  }
  // RoPE: transformers 5 writes rope_parameters per layer type; older
  // versions rope_theta, rope_local_base_freq and rope_scaling (global layers).
  c.rope_global_base = opt_number(cfg, "rope_theta", 1000000.0f, w);
  c.rope_local_base = opt_number(cfg, "rope_local_base_freq", 10000.0f, w);
  if (present(cfg, "rope_scaling"))
    read_rope(json_member(cfg, "rope_scaling", w), "rope_scaling", true, &c.rope_global_base, &c.rope_global_factor,
              w);
  if (present(cfg, "rope_parameters")) {
    const JsonValue& rp = json_member(cfg, "rope_parameters", w);
    if (!rp.is_object()) throw Error(w + ": \"rope_parameters\" must be an object");
    float unused = 1.0f;
    if (present(rp, "full_attention"))
      read_rope(json_member(rp, "full_attention", w), "rope_parameters.full_attention", true, &c.rope_global_base,
                &c.rope_global_factor, w);
    if (present(rp, "sliding_attention"))
      read_rope(json_member(rp, "sliding_attention", w), "rope_parameters.sliding_attention", false,
                &c.rope_local_base, &unused, w);
  }
  const std::string act = present(cfg, "hidden_activation") ? json_string(cfg, "hidden_activation", w)
                                                            : "gelu_pytorch_tanh";
  if (act != "gelu_pytorch_tanh")
    throw Error(w + ": \"hidden_activation\" must be \"gelu_pytorch_tanh\", got \"" + act + "\"");
  if (opt_bool(cfg, "attention_bias", false, w)) throw Error(w + ": \"attention_bias\" true is not supported");
  if (opt_bool(cfg, "use_bidirectional_attention", false, w))
    throw Error(w + ": \"use_bidirectional_attention\" true is not supported");
  c.validate(what);
  return c;
}

// ---------------------------------------------------------------- loading

Gemma3Model Gemma3Model::load_gguf(const std::string& path) {
  const GgufFile g = GgufFile::open(path);
  const Gemma3Config c = Gemma3Config::from_gguf(g);
  const WeightSource src = gguf_weight_source(g, kGemma3Layers.arch, [](const std::string& hf) {
    const auto [module, suffix] = split_weight_suffix(hf);
    for (const auto* n : {kQNorm, kKNorm}) {
      std::string rest;
      const int l = block_index(module, kGemma3Layers.blocks, 1 << 20, &rest);
      if (l >= 0 && rest == n[0]) return str("blk.", l, ".", n[1], suffix);
    }
    return gguf_tensor_name(kGemma3Layers, hf);
  });
  return from_weights(c, src, NormForm::kGain);  // the converter added 1 to every norm weight
}

Gemma3Model Gemma3Model::from_weights(const Gemma3Config& cfg, const WeightSource& src, NormForm norms) {
  cfg.validate("gemma3 config");
  Gemma3Model m;
  m.cfg_ = cfg;
  const BlockDims d = dims_of(cfg);
  m.load_embeddings(src, d, cfg.vocab);
  m.load_blocks(src, d, cfg.n_layers);
  m.load_head(src, d, cfg.vocab, cfg.tied_embeddings);
  for (int l = 0; l < cfg.n_layers; ++l) {
    Gemma3Block& b = m.blocks_[size_t(l)];
    const std::string p = str(kGemma3Layers.blocks, l, ".");
    for (auto [vec, n] : {std::pair{&b.q_norm, kQNorm[0]}, std::pair{&b.k_norm, kKNorm[0]}}) {
      const MatrixF w = src.load(p + n + ".weight", 1, cfg.head_dim);
      *vec = Eigen::Map<const VectorF>(w.data(), cfg.head_dim);
    }
  }
  // Hugging Face's w -> the gain 1 + w, in float32 as HF's forward computes it
  if (norms == NormForm::kHfOffset) {
    auto shift = [](VectorF& w) { w.array() += 1.0f; };
    for (Gemma3Block& b : m.blocks_) {
      for (NormWeights* n : {&b.attn_norm, &b.post_attn_norm, &b.ffn_norm, &b.post_ffn_norm}) shift(n->weight);
      shift(b.q_norm);
      shift(b.k_norm);
    }
    shift(m.final_norm_.weight);
  }
  return m;
}

// ---------------------------------------------------------------- pieces

// Elementwise, so the blocks change no bit; in parallel because tanh over
// T x ffn elements was most of Gemma's extra time over Llama's SiLU (which
// has an AVX-512 path; docs/hf-checkpoints.md, "Speed").
void gelu_tanh_mul(float* g, const float* u, long n) {
  const float k = float(std::sqrt(2.0 / M_PI));
  tbb::parallel_for(tbb::blocked_range<long>(0, n, 16384), [&](const tbb::blocked_range<long>& r) {
    for (long i = r.begin(); i < r.end(); ++i) {
      const float z = g[i];
      g[i] = 0.5f * z * (1.0f + std::tanh(k * (z + 0.044715f * z * z * z))) * u[i];
    }
  });
}

void rms_norm_heads(MatrixF& x, int head_dim, const VectorF& w, float eps) {
  if (w.size() != head_dim || x.cols() % head_dim != 0)
    throw Error(str("rms_norm_heads: weight size ", w.size(), ", head dim ", head_dim, ", width ", x.cols()));
  for (long t = 0; t < x.rows(); ++t)
    for (long h = 0; h < x.cols() / head_dim; ++h) {
      auto seg = x.row(t).segment(h * head_dim, head_dim);
      const float inv = 1.0f / std::sqrt(seg.squaredNorm() / float(head_dim) + eps);
      seg = (seg * inv).cwiseProduct(w.transpose());
    }
}

}  // namespace sqsim
