#include "sim/models/hf_checkpoint.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>

#include "base/error.h"
#include "base/str.h"
#include "sim/formats/safetensors_file.h"

namespace sqsim {

bool keep_checkpoint_type(uint64_t half_elements) {
  const char* env = std::getenv("SQSIM_WEIGHTS_IN_MEMORY");
  const std::string want = env ? env : "auto";
  if (want == "checkpoint") return true;
  if (want == "fp32") return false;
  if (want != "auto")
    throw Error("SQSIM_WEIGHTS_IN_MEMORY='" + want + "': expected auto, checkpoint or fp32");
  return half_elements * 4 > kKeepCheckpointTypeAboveBytes;
}

bool keep_checkpoint_type(const SafetensorsCheckpoint& ckpt) {
  uint64_t n = 0;
  for (const std::string& name : ckpt.names()) {
    const SafetensorsTensor& t = ckpt.info(name);
    if (t.dtype == "BF16" || t.dtype == "F16") n += t.n_elements();
  }
  return keep_checkpoint_type(n);
}

namespace {

int pos_int(const JsonValue& c, const std::string& key, const std::string& what) {
  const int64_t v = json_int(c, key, what);
  if (v <= 0 || v > (int64_t(1) << 30))
    throw Error(what + ": \"" + key + "\" must be a positive integer, got " + std::to_string(v));
  return int(v);
}
bool opt_bool(const JsonValue& c, const std::string& key, bool dflt, const std::string& what) {
  const JsonValue* v = c.find(key);
  return (v && !v->is_null()) ? json_bool(c, key, what) : dflt;
}
bool present(const JsonValue& c, const std::string& key) {
  const JsonValue* v = c.find(key);
  return v && !v->is_null();
}

// A weight loader over the checkpoint that checks each tensor's shape against
// what the config implies before reading it. strip_model_prefix_ok: names
// that may be stored without a leading `prefix` (OPT checkpoints saved from
// OPTModel without "model.", BLOOM's from BloomModel without "transformer.").
struct HfWeights {
  const SafetensorsCheckpoint& ckpt;
  std::string model_type;
  bool strip_model_prefix_ok = false;
  std::string prefix = "model.";

  std::string resolve(const std::string& name) const {
    if (ckpt.has(name)) return name;
    const size_t n = prefix.size();
    if (strip_model_prefix_ok && name.rfind(prefix, 0) == 0 && ckpt.has(name.substr(n))) return name.substr(n);
    return "";
  }
  bool has(const std::string& name) const { return !resolve(name).empty(); }
  MatrixF load(const std::string& name, long rows, long cols) const {
    const std::string n = checked(name, rows, cols);
    MatrixF w = ckpt.load(n);
    require_finite(w, ckpt.dir() + ": tensor " + n);
    return w;
  }
  // The 2-byte words of an F16/BF16 matrix when keep_checkpoint_type()
  // says so for this checkpoint; null otherwise (load() then gives float32).
  std::shared_ptr<const HalfMatrix> load_half(const std::string& name, long rows, long cols) const {
    if (!keep_half) return nullptr;
    const std::string n = checked(name, rows, cols);
    const SafetensorsTensor& t = ckpt.info(n);
    if (rows == 1 || (t.dtype != "BF16" && t.dtype != "F16")) return nullptr;
    auto h = std::make_shared<HalfMatrix>();
    h->rows = rows;
    h->cols = cols;
    h->type = t.dtype == "BF16" ? HalfMatrix::Type::kBf16 : HalfMatrix::Type::kFp16;
    h->words = ckpt.load_words(n);
    require_finite(*h, ckpt.dir() + ": tensor " + n);
    return h;
  }
  // Resolves `name` and checks its shape against [rows x cols].
  std::string checked(const std::string& name, long rows, long cols) const {
    const std::string n = resolve(name);
    if (n.empty())
      throw Error(ckpt.dir() + ": checkpoint has no tensor " + name + " (needed by the " + model_type + " config)");
    const SafetensorsTensor& t = ckpt.info(n);
    const bool ok = rows == 1 ? (t.shape.size() == 1 && long(t.shape[0]) == cols)
                              : (t.shape.size() == 2 && long(t.shape[0]) == rows && long(t.shape[1]) == cols);
    if (!ok) {
      std::string got = "[";
      for (size_t i = 0; i < t.shape.size(); ++i) got += (i ? ", " : "") + std::to_string(t.shape[i]);
      throw Error(ckpt.dir() + ": tensor " + n + " has shape " + got + "], expected " +
                  (rows == 1 ? str("[", cols, "]") : str("[", rows, ", ", cols, "]")) + " from config.json");
    }
    return n;
  }
  bool keep_half = keep_checkpoint_type(ckpt);
};

}  // namespace

namespace {

// Sliding windows: Mistral and Phi-3 "sliding_window" on every layer (null:
// none); Qwen2/Qwen3 only with "use_sliding_window", on the layers
// "layer_types" calls "sliding_attention", else on layers >= max_window_layers.
void read_sliding_window(const JsonValue& c, const std::string& what, LlamaConfig& l) {
  const std::string& a = l.arch;
  if (a == "mistral" || a == "phi3") {
    if (present(c, "sliding_window")) l.sliding_window = pos_int(c, "sliding_window", what);
    return;
  }
  if ((a != "qwen2" && a != "qwen3") || !opt_bool(c, "use_sliding_window", false, what)) return;
  l.sliding_window = present(c, "sliding_window") ? pos_int(c, "sliding_window", what) : 4096;
  if (present(c, "layer_types")) {
    const JsonValue& t = json_member(c, "layer_types", what);
    if (!t.is_array() || t.array.size() != size_t(l.n_layers))
      throw Error(str(what, ": \"layer_types\" must be an array of ", l.n_layers, " strings"));
    for (const JsonValue& e : t.array) {
      if (!e.is_string() || (e.string != "sliding_attention" && e.string != "full_attention"))
        throw Error(what + ": \"layer_types\" entries must be \"sliding_attention\" or \"full_attention\"");
      l.window_layers.push_back(e.string == "sliding_attention");
    }
    return;
  }
  const int from = present(c, "max_window_layers") ? int(json_int(c, "max_window_layers", what)) : 28;
  for (int i = 0; i < l.n_layers; ++i) l.window_layers.push_back(i >= from);
}

}  // namespace

LlamaConfig llama_config_from_hf(const JsonValue& c, const std::string& what) {
  LlamaConfig l;
  l.arch = present(c, "model_type") ? json_string(c, "model_type", what) : "llama";
  // (mixtral: the keys of its attention, read here for mixtral_config_from_hf)
  if (l.arch != "llama" && l.arch != "mistral" && l.arch != "qwen2" && l.arch != "qwen3" && l.arch != "phi3" &&
      l.arch != "mixtral")
    throw Error(what + ": model_type \"" + l.arch + "\" is not a Llama-like family");
  l.qkv_bias = l.arch == "qwen2";
  l.qk_norm = l.arch == "qwen3";
  l.fused = l.arch == "phi3";
  l.hidden = pos_int(c, "hidden_size", what);
  l.n_layers = pos_int(c, "num_hidden_layers", what);
  l.n_heads = pos_int(c, "num_attention_heads", what);
  l.n_kv_heads = present(c, "num_key_value_heads") ? pos_int(c, "num_key_value_heads", what) : l.n_heads;
  l.ffn = pos_int(c, "intermediate_size", what);
  l.vocab = pos_int(c, "vocab_size", what);
  l.context = present(c, "max_position_embeddings") ? pos_int(c, "max_position_embeddings", what) : 0;
  l.rms_eps = present(c, "rms_norm_eps") ? float(json_number(c, "rms_norm_eps", what)) : 1e-6f;
  l.rope_base = present(c, "rope_theta") ? float(json_number(c, "rope_theta", what)) : 10000.0f;
  l.tied_embeddings = opt_bool(c, "tie_word_embeddings", false, what);
  l.rope_style = RopeStyle::Half;  // HF keeps the original Q/K row order
  // An explicit head_dim (Qwen3 defaults to 128, as transformers' Qwen3Config does).
  if (present(c, "head_dim")) l.head_dim = pos_int(c, "head_dim", what);
  else if (l.arch == "qwen3") l.head_dim = 128;
  // RoPE: transformers 5 writes {"rope_parameters": {"rope_type", "rope_theta", ...}},
  // older versions "rope_theta" and "rope_scaling" (which wins when both are there).
  // Phi-3 calls longrope "su" (and "yarn") and keeps original_max_position_embeddings
  // outside the dict (4096 when absent), which then wins.
  const char* rope_key = present(c, "rope_scaling") ? "rope_scaling" : present(c, "rope_parameters") ? "rope_parameters" : nullptr;
  if (rope_key) {
    const JsonValue& r = json_member(c, rope_key, what);
    std::vector<std::pair<std::string, std::string>> aliases;
    if (l.arch == "phi3") aliases = {{"su", "longrope"}, {"yarn", "longrope"}};
    l.rope_scaling = rope_scaling_from_json(r, rope_key, what, l.context, aliases);
    if (l.arch == "phi3" && l.rope_scaling.scaled())
      l.rope_scaling.original_max = present(c, "original_max_position_embeddings")
                                        ? pos_int(c, "original_max_position_embeddings", what)
                                        : 4096;
    if (present(r, "rope_theta")) l.rope_base = float(json_number(r, "rope_theta", what + " " + rope_key));
    if (present(r, "partial_rotary_factor") && json_number(r, "partial_rotary_factor", what) != 1.0)
      throw Error(what + ": \"" + rope_key + ".partial_rotary_factor\" other than 1 is not supported");
  }
  if (present(c, "partial_rotary_factor") && json_number(c, "partial_rotary_factor", what) != 1.0)
    throw Error(what + ": \"partial_rotary_factor\" other than 1 is not supported");
  if (present(c, "hidden_act") && json_string(c, "hidden_act", what) != "silu")
    throw Error(what + ": \"hidden_act\" must be \"silu\", got \"" + json_string(c, "hidden_act", what) + "\"");
  if (l.arch != "qwen2" && opt_bool(c, "attention_bias", false, what))
    throw Error(what + ": \"attention_bias\" true is not supported");
  if (opt_bool(c, "mlp_bias", false, what)) throw Error(what + ": \"mlp_bias\" true is not supported");
  read_sliding_window(c, what, l);
  l.validate(what);
  return l;
}

OptConfig opt_config_from_hf(const JsonValue& c, const std::string& what) {
  OptConfig o;
  o.hidden = pos_int(c, "hidden_size", what);
  o.n_layers = pos_int(c, "num_hidden_layers", what);
  o.n_heads = pos_int(c, "num_attention_heads", what);
  o.ffn = pos_int(c, "ffn_dim", what);
  o.vocab = pos_int(c, "vocab_size", what);
  o.max_positions = pos_int(c, "max_position_embeddings", what);
  if (!opt_bool(c, "do_layer_norm_before", true, what))
    throw Error(what + ": \"do_layer_norm_before\" false (post-LayerNorm, OPT-350m) is not supported");
  if (present(c, "word_embed_proj_dim") && json_int(c, "word_embed_proj_dim", what) != o.hidden)
    throw Error(what + ": \"word_embed_proj_dim\" " + std::to_string(json_int(c, "word_embed_proj_dim", what)) +
                " differs from hidden_size " + std::to_string(o.hidden) + " (project_in/out) and is not supported");
  if (present(c, "activation_function") && json_string(c, "activation_function", what) != "relu")
    throw Error(what + ": \"activation_function\" must be \"relu\", got \"" +
                json_string(c, "activation_function", what) + "\"");
  if (!opt_bool(c, "enable_bias", true, what)) throw Error(what + ": \"enable_bias\" false is not supported");
  if (!opt_bool(c, "layer_norm_elementwise_affine", true, what))
    throw Error(what + ": \"layer_norm_elementwise_affine\" false is not supported");
  if (opt_bool(c, "_remove_final_layer_norm", false, what))
    throw Error(what + ": \"_remove_final_layer_norm\" true is not supported");
  o.validate(what);
  return o;
}

// ---------------------------------------------------------------- tokenizer.json

namespace {

// "ByteLevel" with the GPT-2 regex and no prefix space; anything else refused.
void check_byte_level(const JsonValue& p, const std::string& what) {
  if (opt_bool(p, "add_prefix_space", false, what))
    throw Error(what + ": pre_tokenizer ByteLevel with add_prefix_space true is not supported");
  if (!opt_bool(p, "use_regex", true, what))
    throw Error(what + ": pre_tokenizer ByteLevel with use_regex false is not supported");
}

std::string pre_tokenizer_name(const JsonValue& tok, const std::string& what) {
  const JsonValue* p = tok.find("pre_tokenizer");
  if (!p || p->is_null()) throw Error(what + ": \"pre_tokenizer\" is null; sqsim needs ByteLevel");
  const std::string type = json_string(*p, "type", what + " pre_tokenizer");
  if (type == "ByteLevel") {
    check_byte_level(*p, what);
    return "gpt2";
  }
  if (type == "Sequence") {
    const JsonValue& seq = json_member(*p, "pretokenizers", what + " pre_tokenizer");
    if (seq.is_array() && seq.array.size() == 2) {
      const JsonValue& a = seq.array[0];
      const JsonValue& b = seq.array[1];
      if (a.is_object() && b.is_object() && a.find("type") && b.find("type") && a.find("type")->is_string() &&
          b.find("type")->is_string() && a.find("type")->string == "Digits" && b.find("type")->string == "ByteLevel" &&
          opt_bool(a, "individual_digits", false, what)) {
        check_byte_level(b, what);
        return "smollm";
      }
    }
    throw Error(what + ": pre_tokenizer Sequence is supported only as [Digits(individual_digits), ByteLevel]");
  }
  throw Error(what + ": pre_tokenizer type \"" + type + "\" is not supported (ByteLevel or Sequence[Digits, ByteLevel])");
}

std::optional<int32_t> bos_from_post_processor(const JsonValue& tok, const std::string& what) {
  const JsonValue* p = tok.find("post_processor");
  if (!p || p->is_null()) return std::nullopt;
  const std::string type = json_string(*p, "type", what + " post_processor");
  if (type == "ByteLevel") return std::nullopt;  // offsets only
  if (type != "TemplateProcessing")
    throw Error(what + ": post_processor type \"" + type + "\" is not supported (TemplateProcessing or ByteLevel)");
  const JsonValue& single = json_member(*p, "single", what + " post_processor");
  if (!single.is_array()) throw Error(what + ": post_processor.single must be an array");
  std::vector<std::string> specials;
  bool seen_a = false;
  for (const JsonValue& piece : single.array) {
    if (const JsonValue* st = piece.find("SpecialToken")) {
      if (seen_a) throw Error(what + ": post_processor.single appends a token after $A (EOS), which is not supported");
      specials.push_back(json_string(*st, "id", what + " post_processor.single"));
    } else if (const JsonValue* sq = piece.find("Sequence")) {
      if (json_string(*sq, "id", what + " post_processor.single") != "A")
        throw Error(what + ": post_processor.single must use sequence A");
      seen_a = true;
    } else {
      throw Error(what + ": post_processor.single has an entry that is neither SpecialToken nor Sequence");
    }
  }
  if (!seen_a || specials.size() > 1)
    throw Error(what + ": post_processor.single must be \"$A\" or \"<bos> $A\"");
  if (specials.empty()) return std::nullopt;
  const JsonValue& table = json_member(*p, "special_tokens", what + " post_processor");
  const JsonValue& entry = json_member(table, specials[0], what + " post_processor.special_tokens");
  const JsonValue& ids = json_member(entry, "ids", what + " post_processor.special_tokens." + specials[0]);
  if (!ids.is_array() || ids.array.size() != 1 || !ids.array[0].is_int)
    throw Error(what + ": post_processor.special_tokens." + specials[0] + ".ids must hold one integer id");
  return int32_t(ids.array[0].integer);
}

}  // namespace

HfTokenizer tokenizer_from_hf_json(const JsonValue& tok, const std::string& what) {
  const JsonValue* norm = tok.find("normalizer");
  if (norm && !norm->is_null()) throw Error(what + ": \"normalizer\" is not supported (must be null)");
  const JsonValue& model = json_member(tok, "model", what);
  const std::string mw = what + " model";
  if (present(model, "type") && json_string(model, "type", mw) != "BPE")
    throw Error(what + ": model type \"" + json_string(model, "type", mw) + "\" is not supported (BPE)");
  if (opt_bool(model, "byte_fallback", false, mw)) throw Error(what + ": model.byte_fallback true is not supported");
  if (opt_bool(model, "ignore_merges", false, mw)) throw Error(what + ": model.ignore_merges true is not supported");
  if (present(model, "dropout")) throw Error(what + ": model.dropout is not supported (must be null)");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (present(model, k) && !json_string(model, k, mw).empty())
      throw Error(what + ": model." + k + " is not supported (must be null or empty)");

  // id -> token from the vocabulary and the added tokens.
  std::map<int64_t, std::string> by_id;
  auto put = [&](int64_t id, const std::string& t, const std::string& where) {
    if (id < 0 || id >= (int64_t(1) << 24))
      throw Error(what + ": " + where + " id " + std::to_string(id) + " out of range");
    const auto it = by_id.find(id);
    if (it != by_id.end() && it->second != t)
      throw Error(what + ": id " + std::to_string(id) + " is both \"" + it->second + "\" and \"" + t + "\"");
    by_id[id] = t;
  };
  const JsonValue& vocab = json_member(model, "vocab", mw);
  if (!vocab.is_object()) throw Error(what + ": model.vocab must be an object {token: id}");
  for (const auto& [t, v] : vocab.object) {
    if (!v.is_int) throw Error(what + ": model.vocab id of \"" + t + "\" is not an integer");
    put(v.integer, t, "model.vocab");
  }
  std::vector<std::string> specials;
  if (const JsonValue* added = tok.find("added_tokens"); added && !added->is_null()) {
    if (!added->is_array()) throw Error(what + ": added_tokens must be an array");
    for (const JsonValue& a : added->array) {
      const std::string aw = what + " added_tokens";
      const std::string content = json_string(a, "content", aw);
      if (opt_bool(a, "lstrip", false, aw) || opt_bool(a, "rstrip", false, aw))
        throw Error(what + ": added token \"" + content + "\" uses lstrip/rstrip, which is not supported");
      put(json_int(a, "id", aw), content, "added_tokens");
      specials.push_back(content);  // added tokens are split off the text literally
    }
  }
  std::vector<std::string> tokens;
  for (const auto& [id, t] : by_id) {
    if (id != int64_t(tokens.size())) throw Error(what + ": no token has id " + std::to_string(tokens.size()));
    tokens.push_back(t);
  }
  if (tokens.empty()) throw Error(what + ": empty vocabulary");

  std::vector<std::string> merges;
  if (const JsonValue* m = model.find("merges"); m && !m->is_null()) {
    if (!m->is_array()) throw Error(what + ": model.merges must be an array");
    for (const JsonValue& e : m->array) {
      if (e.is_string()) {
        merges.push_back(e.string);
      } else if (e.is_array() && e.array.size() == 2 && e.array[0].is_string() && e.array[1].is_string()) {
        if (e.array[0].string.find(' ') != std::string::npos || e.array[1].string.find(' ') != std::string::npos)
          throw Error(what + ": merge [\"" + e.array[0].string + "\", \"" + e.array[1].string +
                      "\"] has a space, which sqsim's merge form cannot hold");
        merges.push_back(e.array[0].string + " " + e.array[1].string);
      } else {
        throw Error(what + ": model.merges entries must be \"a b\" or [\"a\", \"b\"]");
      }
    }
  }
  const std::string pre = pre_tokenizer_name(tok, what);
  const std::optional<int32_t> bos = bos_from_post_processor(tok, what);
  if (bos && (*bos < 0 || size_t(*bos) >= tokens.size()))
    throw Error(what + ": post_processor BOS id " + std::to_string(*bos) + " is outside the vocabulary");
  return HfTokenizer{BpeTokenizer(std::move(tokens), merges, pre, specials), bos};
}

// ---------------------------------------------------------------- folder

std::unique_ptr<CausalLm> llama_from_hf(const JsonValue& cfg, const std::string& cfg_path, const std::string& dir) {
  const LlamaConfig c = llama_config_from_hf(cfg, cfg_path);
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open_dir(dir);
  const HfWeights w{ckpt, c.arch, false};
  WeightSource src;
  src.has = [&](const std::string& n) { return w.has(n); };
  src.load = [&](const std::string& n, long r, long cols) { return w.load(n, r, cols); };
  src.load_half = [&](const std::string& n, long r, long cols) { return w.load_half(n, r, cols); };
  return std::make_unique<LlamaModel>(LlamaModel::from_weights(c, src));
}

std::unique_ptr<CausalLm> opt_from_hf(const JsonValue& cfg, const std::string& cfg_path, const std::string& dir) {
  const OptConfig c = opt_config_from_hf(cfg, cfg_path);
  const bool tied = opt_bool(cfg, "tie_word_embeddings", true, cfg_path);
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open_dir(dir);
  const HfWeights w{ckpt, "opt", true};
  WeightSource src;
  src.has = [&](const std::string& n) { return (n != "lm_head.weight" || !tied) && w.has(n); };
  src.load = [&](const std::string& n, long r, long cols) { return w.load(n, r, cols); };
  src.load_half = [&](const std::string& n, long r, long cols) { return w.load_half(n, r, cols); };
  return std::make_unique<OptModel>(OptModel::from_weights(c, src));
}

// ---------------------------------------------------------------- BLOOM

BloomConfig bloom_config_from_hf(const JsonValue& c, const std::string& what) {
  // BloomConfig's own keys, or the generic names it maps them to.
  auto key = [&](const char* own, const char* generic) { return present(c, own) ? own : generic; };
  BloomConfig b;
  b.hidden = pos_int(c, key("hidden_size", "n_embed"), what);
  b.n_layers = pos_int(c, key("n_layer", "num_hidden_layers"), what);
  b.n_heads = pos_int(c, key("n_head", "num_attention_heads"), what);
  b.vocab = pos_int(c, "vocab_size", what);
  b.ln_eps = present(c, "layer_norm_epsilon") ? float(json_number(c, "layer_norm_epsilon", what)) : 1e-5f;
  if (opt_bool(c, "apply_residual_connection_post_layernorm", false, what))
    throw Error(what + ": \"apply_residual_connection_post_layernorm\" true is not supported");
  if (opt_bool(c, "slow_but_exact", false, what) && present(c, "pretraining_tp") &&
      json_int(c, "pretraining_tp", what) > 1)
    throw Error(what + ": \"slow_but_exact\" true with \"pretraining_tp\" > 1 is not supported");
  b.validate(what);
  return b;
}

std::unique_ptr<CausalLm> bloom_from_hf(const JsonValue& cfg, const std::string& cfg_path, const std::string& dir) {
  const BloomConfig c = bloom_config_from_hf(cfg, cfg_path);
  const bool tied = opt_bool(cfg, "tie_word_embeddings", true, cfg_path);
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open_dir(dir);
  const HfWeights w{ckpt, "bloom", true, "transformer."};
  WeightSource src;
  src.has = [&](const std::string& n) { return (n != "lm_head.weight" || !tied) && w.has(n); };
  src.load = [&](const std::string& n, long r, long cols) { return w.load(n, r, cols); };
  src.load_half = [&](const std::string& n, long r, long cols) { return w.load_half(n, r, cols); };
  return std::make_unique<BloomModel>(BloomModel::from_weights(c, src));
}

// ---------------------------------------------------------------- Mixtral

MixtralConfig mixtral_config_from_hf(const JsonValue& c, const std::string& what) {
  MixtralConfig m;
  m.attn = llama_config_from_hf(c, what);  // the Llama keys, checked the same way
  m.n_experts = pos_int(c, "num_local_experts", what);
  m.top_k = pos_int(c, "num_experts_per_tok", what);
  if (m.top_k > m.n_experts)
    throw Error(what + ": \"num_experts_per_tok\" " + std::to_string(m.top_k) + " exceeds \"num_local_experts\" " +
                std::to_string(m.n_experts));
  if (present(c, "sliding_window"))
    throw Error(what + ": \"sliding_window\" is not supported (must be null)");
  if (m.attn.rope_scaling.scaled())
    throw Error(what + ": \"rope_scaling\" is not supported for mixtral (must be null)");
  m.validate(what);
  return m;
}

std::unique_ptr<CausalLm> mixtral_from_hf(const JsonValue& cfg, const std::string& cfg_path, const std::string& dir) {
  const MixtralConfig c = mixtral_config_from_hf(cfg, cfg_path);
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open_dir(dir);
  // transformers 5 holds the experts fused in memory (mlp.experts.gate_up_proj
  // [E, 2 ffn, hidden]) but save_pretrained writes the per-expert layout read here.
  for (const char* fused : {"model.layers.0.mlp.experts.gate_up_proj", "model.layers.0.mlp.experts.down_proj"})
    if (ckpt.has(fused))
      throw Error(dir + ": tensor " + fused + " holds fused experts, which are not supported (expected "
                  "model.layers.N.block_sparse_moe.experts.E.w1/w2/w3.weight, as save_pretrained writes them)");
  const HfWeights w{ckpt, "mixtral", false};
  WeightSource src;
  src.has = [&](const std::string& n) { return w.has(n); };
  src.load = [&](const std::string& n, long r, long cols) { return w.load(n, r, cols); };
  src.load_half = [&](const std::string& n, long r, long cols) { return w.load_half(n, r, cols); };
  return std::make_unique<MixtralModel>(MixtralModel::from_weights(c, src));
}

// Gemma 3: "gemma3_text", or "gemma3" (multimodal) whose language model's
// tensors sit under model.language_model. (transformers 5) or
// language_model.model. (earlier); the vision tower is not read.
std::unique_ptr<CausalLm> gemma3_from_hf(const JsonValue& cfg, const std::string& cfg_path, const std::string& dir) {
  const Gemma3Config c = Gemma3Config::from_hf(cfg, cfg_path);
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open_dir(dir);
  const HfWeights w{ckpt, "gemma3", false};
  auto name_in = [&](const std::string& n) {
    if (w.has(n)) return n;
    const bool in_model = n.rfind("model.", 0) == 0;
    for (const std::string& alt : {in_model ? "model.language_model." + n.substr(6) : "model." + n,
                                   "language_model." + n})
      if (w.has(alt)) return alt;
    return n;  // missing: w.load names it
  };
  WeightSource src;
  src.has = [&](const std::string& n) { return w.has(name_in(n)); };
  src.load = [&](const std::string& n, long r, long cols) { return w.load(name_in(n), r, cols); };
  src.load_half = [&](const std::string& n, long r, long cols) { return w.load_half(name_in(n), r, cols); };
  return std::make_unique<Gemma3Model>(Gemma3Model::from_weights(c, src, Gemma3Model::NormForm::kHfOffset));
}

LoadedModel load_hf_checkpoint(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  if (!std::ifstream(cfg_path)) throw Error(dir + ": not a Hugging Face checkpoint (no config.json)");
  const JsonValue cfg = read_json_file(cfg_path);
  const std::string type = json_string(cfg, "model_type", cfg_path);
  const std::string tok_path = dir + "/tokenizer.json";
  if (!std::ifstream(tok_path)) throw Error(dir + ": no tokenizer.json in the checkpoint folder");

  const ModelFamily* family = find_model_family(type);
  if (!family)
    throw Error(cfg_path + ": model_type \"" + type + "\" is not supported (" + model_family_names() + ")");
  LoadedModel m;
  m.path = dir;
  m.model = family->from_hf(cfg, cfg_path, dir);
  HfTokenizer t = tokenizer_from_hf_json(read_json_file(tok_path), tok_path);
  if (int(t.tokenizer.vocab_size()) > m.model->vocab_size())
    throw Error(str(tok_path, ": tokenizer has ", t.tokenizer.vocab_size(), " tokens, more than vocab_size ",
                    m.model->vocab_size(), " in config.json"));
  m.tokenizer = std::make_unique<BpeTokenizer>(std::move(t.tokenizer));
  m.bos = t.bos;
  return m;
}

}  // namespace sqsim
