#pragma once
// Tiny checkpoints of the Llama-like families (Mistral, Qwen2, Qwen3, Phi-3)
// as Hugging Face folders: weights, config.json and the byte tokenizer of
// tests/hf_fixtures.h. Shared by llama_variants_test.cpp and
// llama_variants_gguf_test.cpp.
#include <string>
#include <vector>

#include "tests/hf_fixtures.h"

namespace sqsim_test {

// A tiny checkpoint folder of `arch` (weights from the model built here, so
// only the folder's config and names are under test).
inline std::string variant_dir(const std::string& name, const std::string& config, const Weights& w) {
  const std::string dir = temp_dir(name);
  write_text(dir + "/config.json", config);
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, "null"));
  write_weights(dir, w, "F32");
  return dir;
}

// Weights of a 2-layer checkpoint of `arch` (4 heads, 2 kv heads, head dim
// H / 4); qkv_rows other than q + 2 kv makes Phi-3's fused tensor misshapen.
inline Weights variant_weights(const std::string& arch, uint64_t H, uint64_t F, long qkv_rows = 0) {
  Rng r(7);
  Weights w;
  const uint64_t V = 264, KV = H / 2, D = H / 4;
  auto put = [&](const std::string& n, uint64_t rows, uint64_t cols, float sd, float mean = 0) {
    w[n] = {cols ? std::vector<uint64_t>{rows, cols} : std::vector<uint64_t>{rows},
            r.normal(size_t(rows * (cols ? cols : 1)), sd, mean)};
  };
  put("model.embed_tokens.weight", V, H, 1.0f);
  put("model.norm.weight", H, 0, 0.1f, 1.0f);
  put("lm_head.weight", V, H, 0.2f);
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    put(p + "input_layernorm.weight", H, 0, 0.1f, 1.0f);
    put(p + "post_attention_layernorm.weight", H, 0, 0.1f, 1.0f);
    put(p + "self_attn.o_proj.weight", H, H, 0.2f);
    put(p + "mlp.down_proj.weight", H, F, 0.2f);
    if (arch == "phi3") {
      put(p + "self_attn.qkv_proj.weight", qkv_rows ? uint64_t(qkv_rows) : 2 * H, H, 0.3f);
      put(p + "mlp.gate_up_proj.weight", 2 * F, H, 0.2f);
      continue;
    }
    put(p + "self_attn.q_proj.weight", H, H, 0.3f);
    put(p + "self_attn.k_proj.weight", KV, H, 0.3f);
    put(p + "self_attn.v_proj.weight", KV, H, 0.3f);
    put(p + "mlp.gate_proj.weight", F, H, 0.2f);
    put(p + "mlp.up_proj.weight", F, H, 0.2f);
    if (arch == "qwen2")
      for (const char* b : {"q", "k", "v"}) put(p + "self_attn." + b + "_proj.bias", b[0] == 'q' ? H : KV, 0, 0.1f);
    if (arch == "qwen3")
      for (const char* n : {"q_norm", "k_norm"}) put(p + "self_attn." + n + ".weight", D, 0, 0.1f, 1.0f);
  }
  return w;
}
inline Weights phi3_weights(long qkv_rows) { return variant_weights("phi3", 32, 48, qkv_rows); }

inline std::string variant_config(const std::string& type, const Overrides& o = {}, int hidden = 32, int ffn = 48) {
  return config_json({{"model_type", "\"" + type + "\""}, {"hidden_size", std::to_string(hidden)},
                      {"num_hidden_layers", "2"}, {"num_attention_heads", "4"}, {"num_key_value_heads", "2"},
                      {"intermediate_size", std::to_string(ffn)},
                      {"vocab_size", "264"}, {"max_position_embeddings", "64"}, {"rms_norm_eps", "1e-05"},
                      {"hidden_act", "\"silu\""}, {"tie_word_embeddings", "false"}},
                     o);
}

}  // namespace sqsim_test
