#include "sim/models/hf_checkpoint.h"

#include <fstream>
#include <map>
#include <memory>

#include "base/error.h"
#include "base/str.h"
#include "sim/formats/safetensors_file.h"

namespace sqsim {

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
// what the config implies before reading it. `alt_prefix`: names that may be
// stored without a leading "model." (OPT checkpoints saved from OPTModel).
struct HfWeights {
  const SafetensorsCheckpoint& ckpt;
  std::string model_type;
  bool strip_model_prefix_ok = false;

  std::string resolve(const std::string& name) const {
    if (ckpt.has(name)) return name;
    if (strip_model_prefix_ok && name.rfind("model.", 0) == 0 && ckpt.has(name.substr(6))) return name.substr(6);
    return "";
  }
  bool has(const std::string& name) const { return !resolve(name).empty(); }
  MatrixF load(const std::string& name, long rows, long cols) const {
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
    MatrixF w = ckpt.load(n);
    require_finite(w, ckpt.dir() + ": tensor " + n);
    return w;
  }
};

}  // namespace

LlamaConfig llama_config_from_hf(const JsonValue& c, const std::string& what) {
  LlamaConfig l;
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
  // transformers 5 writes {"rope_parameters": {"rope_type", "rope_theta"}};
  // older versions "rope_theta" and "rope_scaling". Only the default RoPE is done.
  auto rope_type_of = [&](const std::string& key) {
    const JsonValue& r = json_member(c, key, what);
    if (!r.is_object()) throw Error(what + ": \"" + key + "\" must be an object");
    const char* tk = r.find("rope_type") ? "rope_type" : "type";
    const std::string t = present(r, tk) ? json_string(r, tk, what + " " + key) : "default";
    if (t != "default")
      throw Error(what + ": \"" + key + "\" " + tk + " \"" + t + "\" is not supported (only plain RoPE)");
    return &r;
  };
  if (present(c, "rope_scaling")) rope_type_of("rope_scaling");
  if (present(c, "rope_parameters")) {
    const JsonValue& r = *rope_type_of("rope_parameters");
    if (present(r, "rope_theta")) l.rope_base = float(json_number(r, "rope_theta", what + " rope_parameters"));
    if (present(r, "partial_rotary_factor") && json_number(r, "partial_rotary_factor", what) != 1.0)
      throw Error(what + ": \"rope_parameters\" partial_rotary_factor other than 1 is not supported");
  }
  if (present(c, "hidden_act") && json_string(c, "hidden_act", what) != "silu")
    throw Error(what + ": \"hidden_act\" must be \"silu\", got \"" + json_string(c, "hidden_act", what) + "\"");
  if (opt_bool(c, "attention_bias", false, what)) throw Error(what + ": \"attention_bias\" true is not supported");
  if (opt_bool(c, "mlp_bias", false, what)) throw Error(what + ": \"mlp_bias\" true is not supported");
  if (present(c, "head_dim") && json_int(c, "head_dim", what) * l.n_heads != l.hidden)
    throw Error(what + ": \"head_dim\" times num_attention_heads must equal hidden_size");
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
  const HfWeights w{ckpt, "llama", false};
  WeightSource src;
  src.has = [&](const std::string& n) { return w.has(n); };
  src.load = [&](const std::string& n, long r, long cols) { return w.load(n, r, cols); };
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
  return std::make_unique<OptModel>(OptModel::from_weights(c, src));
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
