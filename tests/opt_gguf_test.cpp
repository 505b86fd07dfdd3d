// OPT in GGUF (docs/gguf.md, "OPT in GGUF"): one tiny random OPT is written
// as a GGUF file and as a Hugging Face safetensors folder; both must load to
// the same logits, equal to the float64 reference of tests/hf_fixtures.h.
// Damaged files (missing tensor or key, wrong shape, bad values) are refused
// naming the file and the tensor or key.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "sim/models/load_model.h"
#include "sim/models/opt_model.h"
#include "tests/gguf_writer.h"
#include "tests/hf_fixtures.h"

using namespace sqsim;
using namespace sqsim_test;

namespace {

// Options for writing a (possibly damaged) OPT GGUF file.
struct GgufEdit {
  std::set<std::string> drop_keys;                          // metadata keys left out
  std::map<std::string, int64_t> int_keys;                  // replaced or added i32/i64 values
  std::map<std::string, float> float_keys;                  // replaced or added f32 values
  std::set<std::string> drop_tensors;                       // GGUF tensor names left out
  std::map<std::string, std::vector<uint64_t>> dims;        // GGUF dims (ne0 first) replacing the true ones
  std::string arch = "opt";
};

// OPT's HF names -> the GGUF names of docs/gguf.md, written out independently
// of sim/models/opt_model.cpp.
std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> top = {
      {"model.decoder.embed_tokens.weight", "token_embd.weight"},
      {"model.decoder.embed_positions.weight", "position_embd.weight"},
      {"model.decoder.final_layer_norm.weight", "output_norm.weight"},
      {"model.decoder.final_layer_norm.bias", "output_norm.bias"},
      {"lm_head.weight", "output.weight"}};
  if (top.count(hf)) return top.at(hf);
  static const std::map<std::string, std::string> blk = {
      {"self_attn_layer_norm", "attn_norm"}, {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},        {"self_attn.out_proj", "attn_output"},
      {"final_layer_norm", "ffn_norm"},      {"fc1", "ffn_up"},             {"fc2", "ffn_down"}};
  const std::string pre = "model.decoder.layers.";
  const size_t dot = hf.find('.', pre.size());
  const std::string layer = hf.substr(pre.size(), dot - pre.size());
  const size_t last = hf.rfind('.');
  const std::string mid = hf.substr(dot + 1, last - dot - 1), suffix = hf.substr(last);
  return "blk." + layer + "." + blk.at(mid) + suffix;
}

// The 260-token byte-level vocabulary of tests/hf_fixtures.h's tokenizer.json.
void tokenizer_kv(Bytes& k, uint64_t& n, bool bos_id) {
  const std::string G = byte_char(' ');
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_char(b));
  for (const std::string& t : {G + "t", std::string("he"), G + "the", std::string("</s>")}) tokens.push_back(t);
  k.str("tokenizer.ggml.model"); k.u32(8); k.str("gpt2"); ++n;
  k.str("tokenizer.ggml.pre"); k.u32(8); k.str("gpt2"); ++n;
  k.str("tokenizer.ggml.tokens"); k.u32(9); k.u32(8); k.u64(tokens.size());
  for (const std::string& t : tokens) k.str(t);
  ++n;
  k.str("tokenizer.ggml.token_type"); k.u32(9); k.u32(5); k.u64(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) k.u32(tokens[i] == "</s>" ? 3 : 1);
  ++n;
  k.str("tokenizer.ggml.merges"); k.u32(9); k.u32(8); k.u64(3);
  k.str(G + " t"); k.str("h e"); k.str(G + "t he"); ++n;
  if (bos_id) { k.str("tokenizer.ggml.bos_token_id"); k.u32(4); k.u32(259); ++n; }
  k.str("tokenizer.ggml.add_bos_token"); k.u32(7); k.u8(1); ++n;
}

std::string write_opt_gguf(const std::string& path, const Weights& w, const OptDims& d, const GgufEdit& e = {}) {
  Bytes k;
  uint64_t n = 0;
  k.str("general.architecture"); k.u32(8); k.str(e.arch); ++n;
  std::map<std::string, int64_t> ints = {{"opt.block_count", d.layers},
                                         {"opt.embedding_length", d.hidden},
                                         {"opt.attention.head_count", d.heads},
                                         {"opt.feed_forward_length", d.ffn},
                                         {"opt.context_length", d.max_pos}};
  for (const auto& [key, v] : e.int_keys) ints[key] = v;
  for (const auto& [key, v] : ints) {
    if (e.drop_keys.count(key)) continue;
    k.str(key); k.u32(11); k.u64(uint64_t(v)); ++n;  // i64
  }
  std::map<std::string, float> floats = {{"opt.attention.layer_norm_epsilon", 1e-5f}};
  for (const auto& [key, v] : e.float_keys) floats[key] = v;
  for (const auto& [key, v] : floats) {
    if (e.drop_keys.count(key)) continue;
    k.str(key); k.u32(6); k.f32(v); ++n;
  }
  tokenizer_kv(k, n, !e.int_keys.count("tokenizer.ggml.bos_token_id"));
  std::vector<TensorSpec> ts;
  for (const auto& [hf, t] : w) {
    const std::string name = gguf_name(hf);
    if (e.drop_tensors.count(name)) continue;
    std::vector<uint64_t> dims(t.shape.rbegin(), t.shape.rend());  // [out, in] -> ne0 = in, ne1 = out
    std::vector<float> v = t.v;
    if (e.dims.count(name)) {
      dims = e.dims.at(name);
      size_t count = 1;
      for (uint64_t x : dims) count *= size_t(x);
      v.resize(count, 0.25f);
    }
    Bytes data;
    for (float f : v) data.f32(f);
    ts.push_back({name, dims, 0, data.b});
  }
  const std::vector<uint8_t> bytes = build(3, n, k.b, ts);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
  return path;
}

std::string write_opt_folder(const std::string& dir, const Weights& w, const OptDims& d, const Overrides& o = {}) {
  write_text(dir + "/config.json", opt_config(d, o));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, kBosTemplate));
  write_weights(dir, w, "F32");
  return dir;
}

// Largest |a - b| (infinity on a shape mismatch), so failures print one number.
double max_abs_diff(const MatrixF& a, const MatrixF& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return INFINITY;
  return double((a - b).cwiseAbs().maxCoeff());
}

std::string load_error(const std::string& path) {
  try {
    load_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::vector<int32_t> kIds = {259, 116, 257, 258, 3, 200, 45, 258, 12, 99, 1, 263};

}  // namespace

TEST(OptGguf, GgufAndSafetensorsLoadToTheSameLogitsAsTheDoubleReference) {
  const OptDims d;  // 2 layers, hidden 32, 4 heads, ffn 64, vocab 264 (260 tokens: padded like OPT's)
  const std::string dir = temp_dir("optgguf");
  const Weights w = opt_weights(d, 33);
  const LoadedModel g = load_model(write_opt_gguf(dir + "/opt.gguf", w, d));
  const std::string hf_dir = dir + "/hf";
  fs::create_directories(hf_dir);
  const LoadedModel h = load_model(write_opt_folder(hf_dir, w, d));
  EXPECT_EQ(g.model->architecture(), "opt");
  EXPECT_EQ(g.model->vocab_size(), d.vocab);
  EXPECT_EQ(g.model->num_layers(), d.layers);
  EXPECT_EQ(g.model->linear_names(), h.model->linear_names());
  ASSERT_TRUE(g.bos.has_value());
  EXPECT_EQ(*g.bos, 259);
  const std::string text = "the theatre then\nthe end";
  EXPECT_EQ(tokenize_document(g, text), tokenize_document(h, text));
  const MatrixF lg = g.model->forward(kIds), lh = h.model->forward(kIds);
  ASSERT_EQ(lg.rows(), long(kIds.size()));
  ASSERT_EQ(lg.cols(), d.vocab);
  EXPECT_EQ(max_abs_diff(lg, lh), 0.0);  // same floats, same arithmetic: bit-identical
  expect_close(lg, opt_reference(w, d, kIds), 2e-4, "gguf");
  EXPECT_THROW(g.model->forward(std::vector<int32_t>(size_t(d.max_pos + 1), 5)), Error);
  fs::remove_all(dir);
}

TEST(OptGguf, UntiedHeadEpsilonAndDefaultEpsilon) {
  const OptDims d;
  const std::string dir = temp_dir("optgguf_head");
  Weights w = opt_weights(d, 34);
  const MatrixF tied = load_model(write_opt_gguf(dir + "/tied.gguf", w, d)).model->forward(kIds);
  // No opt.attention.layer_norm_epsilon: the default 1e-5, the value written above.
  GgufEdit no_eps;
  no_eps.drop_keys = {"opt.attention.layer_norm_epsilon"};
  EXPECT_EQ(max_abs_diff(load_model(write_opt_gguf(dir + "/noeps.gguf", w, d, no_eps)).model->forward(kIds), tied), 0.0);
  // Another epsilon is read (and changes the logits).
  GgufEdit eps;
  eps.float_keys["opt.attention.layer_norm_epsilon"] = 0.5f;
  EXPECT_GT(max_abs_diff(load_model(write_opt_gguf(dir + "/eps.gguf", w, d, eps)).model->forward(kIds), tied), 1e-3);
  // output.weight is the head when present, in both formats alike.
  Rng r(35);
  w["lm_head.weight"] = {{uint64_t(d.vocab), uint64_t(d.hidden)}, r.normal(size_t(d.vocab * d.hidden), 1.0f)};
  const MatrixF untied = load_model(write_opt_gguf(dir + "/untied.gguf", w, d)).model->forward(kIds);
  const std::string hf_dir = dir + "/hf";
  fs::create_directories(hf_dir);
  const MatrixF hf_untied =
      load_model(write_opt_folder(hf_dir, w, d, {{"tie_word_embeddings", "false"}})).model->forward(kIds);
  EXPECT_EQ(max_abs_diff(hf_untied, untied), 0.0);
  EXPECT_GT(max_abs_diff(untied, tied), 1e-3);
  fs::remove_all(dir);
}

TEST(OptGguf, TensorNameTable) {
  EXPECT_EQ(opt_gguf_to_hf_name("token_embd.weight"), "model.decoder.embed_tokens.weight");
  EXPECT_EQ(opt_gguf_to_hf_name("position_embd.weight"), "model.decoder.embed_positions.weight");
  EXPECT_EQ(opt_gguf_to_hf_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(opt_gguf_to_hf_name("output_norm.bias"), "model.decoder.final_layer_norm.bias");
  EXPECT_EQ(opt_gguf_to_hf_name("blk.1.attn_norm.weight"), "model.decoder.layers.1.self_attn_layer_norm.weight");
  EXPECT_EQ(opt_gguf_to_hf_name("blk.0.attn_output.bias"), "model.decoder.layers.0.self_attn.out_proj.bias");
  EXPECT_EQ(opt_gguf_to_hf_name("blk.12.ffn_norm.weight"), "model.decoder.layers.12.final_layer_norm.weight");
  EXPECT_EQ(opt_gguf_to_hf_name("blk.3.ffn_up.bias"), "model.decoder.layers.3.fc1.bias");
  EXPECT_EQ(opt_gguf_to_hf_name("blk.3.ffn_down.weight"), "model.decoder.layers.3.fc2.weight");
  for (const char* bad : {"blk.0.ffn_gate.weight", "blk.x.attn_q.weight", "output.bias", "token_embd.bias",
                          "blk.0.attn_q", "rope_freqs.weight"})
    EXPECT_THROW(opt_gguf_to_hf_name(bad), Error) << bad;
}

TEST(OptGguf, RefusesMissingTensorWrongShapeAndBadKeysNamingFileAndName) {
  const OptDims d;
  const std::string dir = temp_dir("optgguf_bad");
  const Weights w = opt_weights(d, 36);
  int i = 0;
  // Each edit must be refused with a message holding the file and every listed fragment.
  auto refused = [&](const GgufEdit& e, const std::vector<std::string>& fragments) {
    const std::string path = write_opt_gguf(dir + "/bad" + std::to_string(i++) + ".gguf", w, d, e);
    const std::string err = load_error(path);
    EXPECT_NE(err.find(path), std::string::npos) << err;
    for (const std::string& f : fragments) EXPECT_NE(err.find(f), std::string::npos) << "'" << f << "' in: " << err;
  };
  GgufEdit e;
  e.drop_tensors = {"blk.1.ffn_down.bias"};
  refused(e, {"missing tensor blk.1.ffn_down.bias", "[32]"});
  e = {};
  e.drop_tensors = {"position_embd.weight"};
  refused(e, {"missing tensor position_embd.weight", "[18 x 32]"});
  e = {};
  e.dims["blk.0.attn_q.weight"] = {32, 31};
  refused(e, {"blk.0.attn_q.weight", "[31 x 32]", "expected [32 x 32]"});
  e = {};
  e.dims["position_embd.weight"] = {32, 16};  // without OPT's 2 extra rows
  refused(e, {"position_embd.weight", "[16 x 32]", "expected [18 x 32]"});
  e = {};
  e.dims["output_norm.bias"] = {32, 1};  // a vector must be 1-D
  refused(e, {"output_norm.bias", "[1 x 32]", "expected [32]"});
  e = {};
  e.dims["blk.1.ffn_up.weight"] = {64, 32};  // fc1 transposed
  refused(e, {"blk.1.ffn_up.weight", "expected [64 x 32]"});
  for (const char* key : {"opt.block_count", "opt.embedding_length", "opt.attention.head_count",
                          "opt.feed_forward_length", "opt.context_length"}) {
    e = {};
    e.drop_keys = {key};
    refused(e, {"missing metadata key", key});
  }
  e = {};
  e.int_keys["opt.attention.head_count"] = 5;
  refused(e, {"hidden size 32 not a multiple of head count 5"});
  e = {};
  e.int_keys["opt.block_count"] = 0;
  refused(e, {"opt.block_count = 0"});
  e = {};
  e.int_keys["opt.feed_forward_length"] = int64_t(1) << 33;
  refused(e, {"opt.feed_forward_length = 8589934592"});
  e = {};
  e.int_keys["opt.attention.head_count_kv"] = 2;
  refused(e, {"opt.attention.head_count_kv"});
  e = {};
  e.float_keys["opt.attention.layer_norm_epsilon"] = 0.0f;
  refused(e, {"opt.attention.layer_norm_epsilon"});
  e = {};
  e.int_keys["opt.vocab_size"] = 100;  // fewer rows than the 260 tokenizer tokens
  refused(e, {"tokenizer.ggml.tokens has 260 tokens, more than the vocabulary of 100"});
  e = {};
  e.int_keys["opt.vocab_size"] = 300;  // more than token_embd.weight's 264 rows
  refused(e, {"token_embd.weight", "expected [300 x 32]"});
  e = {};
  e.int_keys["tokenizer.ggml.bos_token_id"] = 264;
  refused(e, {"tokenizer.ggml.bos_token_id 264 is outside the vocabulary of 264"});
  e = {};
  e.arch = "gpt2";
  refused(e, {"architecture 'gpt2' is not supported"});
  fs::remove_all(dir);
}
