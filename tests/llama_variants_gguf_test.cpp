// Qwen2, Qwen3 and Phi-3 GGUF files written here (names and keys as
// llama.cpp's converter writes them, mapped independently of the layer
// tables) give the logits of the same weights in a Hugging Face folder, bit
// for bit (both rotate halves: llama.cpp permutes Q/K rows only for "llama");
// RoPE data a GGUF can hold but sqsim does not read is refused by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "base/error.h"
#include "sim/models/load_model.h"
#include "tests/gguf_writer.h"
#include "tests/llama_variant_fixtures.h"

using namespace sqsim;
using namespace sqsim_test;

namespace {

// HF tensor name -> GGUF name, as llama.cpp's tensor map gives them for these archs.
std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> top = {{"model.embed_tokens.weight", "token_embd.weight"},
                                                         {"model.norm.weight", "output_norm.weight"},
                                                         {"lm_head.weight", "output.weight"}};
  if (top.count(hf)) return top.at(hf);
  static const std::map<std::string, std::string> blk = {
      {"input_layernorm", "attn_norm"},     {"post_attention_layernorm", "ffn_norm"},
      {"self_attn.q_proj", "attn_q"},       {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},       {"self_attn.o_proj", "attn_output"},
      {"self_attn.qkv_proj", "attn_qkv"},   {"self_attn.q_norm", "attn_q_norm"},
      {"self_attn.k_norm", "attn_k_norm"},  {"mlp.gate_proj", "ffn_gate"},
      {"mlp.up_proj", "ffn_up"},            {"mlp.gate_up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  const std::string pre = "model.layers.";
  const size_t dot = hf.find('.', pre.size()), last = hf.rfind('.');
  return "blk." + hf.substr(pre.size(), dot - pre.size()) + "." + blk.at(hf.substr(dot + 1, last - dot - 1)) +
         hf.substr(last);
}

// The GGUF of `w` for `arch` (hidden H, ffn F, 4 heads, 2 kv heads), plus `extra` tensors.
std::string write_variant_gguf(const std::string& path, const std::string& arch, const Weights& w, long H, long F,
                               const std::map<std::string, std::vector<float>>& extra = {}) {
  Bytes k;
  uint64_t n = 0;
  k.str("general.architecture"); k.u32(8); k.str(arch); ++n;
  const std::map<std::string, int64_t> ints = {{".block_count", 2},          {".embedding_length", H},
                                               {".attention.head_count", 4}, {".attention.head_count_kv", 2},
                                               {".feed_forward_length", F},  {".context_length", 64},
                                               {".vocab_size", 264}};
  for (const auto& [key, v] : ints) { k.str(arch + key); k.u32(11); k.u64(uint64_t(v)); ++n; }
  k.str(arch + ".attention.layer_norm_rms_epsilon"); k.u32(6); k.f32(1e-5f); ++n;
  k.str(arch + ".rope.freq_base"); k.u32(6); k.f32(10000.0f); ++n;
  k.str("tokenizer.ggml.model"); k.u32(8); k.str("gpt2"); ++n;
  k.str("tokenizer.ggml.tokens"); k.u32(9); k.u32(8); k.u64(256);
  for (int b = 0; b < 256; ++b) k.str(byte_char(b));
  ++n;
  std::vector<TensorSpec> ts;
  auto put = [&](const std::string& name, std::vector<uint64_t> dims, const std::vector<float>& v) {
    Bytes data;
    for (float f : v) data.f32(f);
    ts.push_back({name, std::move(dims), 0, data.b});
  };
  for (const auto& [hf, t] : w) put(gguf_name(hf), {t.shape.rbegin(), t.shape.rend()}, t.v);  // ne0 = in
  for (const auto& [name, v] : extra) put(name, {v.size()}, v);
  const std::vector<uint8_t> bytes = build(3, n, k.b, ts);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
  return path;
}

std::string load_error(const std::string& path) {
  try {
    load_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(LlamaVariantsGguf, Qwen2Qwen3Phi3GiveTheLogitsOfTheirHfFolders) {
  const std::vector<int32_t> tokens = {5, 200, 17, 99, 3, 250, 42, 7, 128, 64};
  for (const char* arch : {"qwen2", "qwen3", "phi3"}) {
    const Weights w = variant_weights(arch, 32, 48);
    const std::string dir = variant_dir(std::string("gguf_") + arch, variant_config(arch, {{"head_dim", "8"}}), w);
    const std::string gguf = write_variant_gguf(dir + "/model.gguf", arch, w, 32, 48);
    const LoadedModel from_gguf = load_model(gguf), from_hf = load_model(dir);
    EXPECT_EQ(from_gguf.model->architecture(), arch);
    EXPECT_EQ(from_gguf.model->linear_names(), from_hf.model->linear_names()) << arch;
    EXPECT_EQ(from_gguf.model->forward(tokens), from_hf.model->forward(tokens)) << arch;
    std::filesystem::remove_all(dir);
  }
}

TEST(LlamaVariantsGguf, RefusesRopeDataItDoesNotReadByName) {
  const Weights w = variant_weights("phi3", 32, 48);
  const std::string dir = temp_dir("gguf_rope");
  const std::string a = write_variant_gguf(dir + "/a.gguf", "phi3", w, 32, 48, {{"rope_freqs.weight", {1, 1, 1, 1}}});
  EXPECT_NE(load_error(a).find(a + ": tensor rope_freqs.weight (RoPE frequency factors) is not supported"),
            std::string::npos) << load_error(a);
  const std::string b =
      write_variant_gguf(dir + "/b.gguf", "phi3", w, 32, 48, {{"rope_factors_long.weight", {1, 2, 3, 4}}});
  EXPECT_NE(load_error(b).find(b + ": rope_factors_long/short tensors are read only as a pair"), std::string::npos)
      << load_error(b);
  const std::string c = write_variant_gguf(dir + "/c.gguf", "phi3", w, 32, 48,
                                           {{"rope_factors_long.weight", {1, 2, 3, 4}},
                                            {"rope_factors_short.weight", {1, 2, 3, 4}}});
  // longrope needs the original context length
  EXPECT_NE(load_error(c).find("phi3.rope.scaling.original_context_length"), std::string::npos) << load_error(c);
  std::filesystem::remove_all(dir);
}
