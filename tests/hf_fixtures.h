#pragma once
// Shared by the checkpoint tests: tiny synthetic weights, writers of Hugging
// Face folders (config.json, safetensors, tokenizer.json) and independent
// float64 forward passes to compare sqsim's logits with.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <unistd.h>
#include <vector>

#include "base/tensor.h"
#include "sim/formats/gguf_dequant.h"
#include "sim/formats/json.h"
#include "sim/formats/safetensors_file.h"

namespace sqsim_test {

using namespace sqsim;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- fixtures

inline std::string temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("sqsim_hf_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

inline void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// GPT-2's byte -> printable code point table, as UTF-8.
inline std::string byte_char(int b) {
  int n = 0, cp = -1;
  for (int c = 0; c < 256; ++c) {
    const bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
    const int m = printable ? c : 256 + n++;
    if (c == b) cp = m;
  }
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// 256 byte tokens, three merges (ids 256..258: "Ġt", "he", "Ġthe") and </s> (259).
inline std::string tokenizer_json(bool array_merges, const std::string& pre, const std::string& post) {
  std::string vocab;
  for (int b = 0; b < 256; ++b) vocab += json_quote(byte_char(b)) + ":" + std::to_string(b) + ",";
  const std::string G = byte_char(' ');
  vocab += json_quote(G + "t") + ":256," + json_quote("he") + ":257," + json_quote(G + "the") + ":258";
  const std::string merges = array_merges
                                 ? "[[" + json_quote(G) + ",\"t\"],[\"h\",\"e\"],[" + json_quote(G + "t") + ",\"he\"]]"
                                 : "[" + json_quote(G + " t") + ",\"h e\"," + json_quote(G + "t he") + "]";
  return "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":259,\"content\":\"</s>\",\"single_word\":false,"
         "\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
         "\"normalizer\":null,\"pre_tokenizer\":" +
         pre + ",\"post_processor\":" + post +
         ",\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
         "\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":false,\"vocab\":{" +
         vocab + "},\"merges\":" + merges + "}}";
}
const std::string kByteLevel = R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true})";
const std::string kBosTemplate =
    R"({"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"</s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],)"
    R"("pair":[],"special_tokens":{"</s>":{"id":"</s>","ids":[259],"tokens":["</s>"]}}})";

struct Tensor {
  std::vector<uint64_t> shape;
  std::vector<float> v;
};
using Weights = std::map<std::string, Tensor>;

struct Rng {
  std::mt19937 g;
  explicit Rng(unsigned s) : g(s) {}
  std::vector<float> normal(size_t n, float sd, float mean = 0.0f) {
    std::normal_distribution<float> d(mean, sd);
    std::vector<float> v(n);
    for (float& x : v) x = d(g);
    return v;
  }
};

// Writes the weights in `dtype`; with shards > 1 splits them round-robin
// and writes model.safetensors.index.json.
inline void write_weights(const std::string& dir, const Weights& w, const std::string& dtype, int shards = 1) {
  std::vector<std::vector<SafetensorsWriteTensor>> parts(shards);
  std::string map;
  int i = 0;
  for (const auto& [name, t] : w) {
    const int s = i++ % shards;
    parts[s].push_back({name, t.shape, t.v});
    const std::string file = "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
    map += std::string(map.empty() ? "" : ",") + json_quote(name) + ":" + json_quote(file);
  }
  if (shards == 1) {
    write_safetensors(dir + "/model.safetensors", parts[0], dtype, {{"format", "pt"}});
    return;
  }
  for (int s = 0; s < shards; ++s)
    write_safetensors(dir + "/model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors",
                      parts[s], dtype);
  write_text(dir + "/model.safetensors.index.json", "{\"metadata\":{\"total_size\":0},\"weight_map\":{" + map + "}}");
}

// Weights as the loaded model sees them in `dtype`.
inline Weights rounded(Weights w, const std::string& dtype) {
  for (auto& kv : w)
    for (float& x : kv.second.v)
      x = dtype == "F16" ? fp16_to_float(float_to_fp16(x)) : dtype == "BF16" ? bf16_to_float(float_to_bf16(x)) : x;
  return w;
}

// ---------------------------------------------------------------- double reference

using Mat = std::vector<std::vector<double>>;  // [T][features]

inline Mat linear(const Mat& x, const Tensor& w, const Tensor* b = nullptr) {
  const size_t out = w.shape[0], in = w.shape[1];
  Mat y(x.size(), std::vector<double>(out, 0.0));
  for (size_t t = 0; t < x.size(); ++t)
    for (size_t o = 0; o < out; ++o) {
      double s = b ? b->v[o] : 0.0;
      for (size_t i = 0; i < in; ++i) s += double(w.v[o * in + i]) * x[t][i];
      y[t][o] = s;
    }
  return y;
}

// One head's causal attention, scores multiplied by `scale`.
inline void attend(const Mat& q, const Mat& k, const Mat& v, size_t qoff, size_t koff, size_t d, double scale, Mat& out) {
  for (size_t t = 0; t < q.size(); ++t) {
    std::vector<double> s(t + 1);
    double mx = -1e300, sum = 0;
    for (size_t j = 0; j <= t; ++j) {
      double dot = 0;
      for (size_t c = 0; c < d; ++c) dot += q[t][qoff + c] * k[j][koff + c];
      s[j] = dot * scale;
      mx = std::max(mx, s[j]);
    }
    for (double& e : s) sum += (e = std::exp(e - mx));
    for (size_t c = 0; c < d; ++c) {
      double o = 0;
      for (size_t j = 0; j <= t; ++j) o += s[j] / sum * v[j][koff + c];
      out[t][qoff + c] = o;
    }
  }
}

using Overrides = std::map<std::string, std::string>;  // key -> raw JSON value ("" removes the key)

inline std::string config_json(std::vector<std::pair<std::string, std::string>> kv, const Overrides& o) {
  for (const auto& [k, v] : o) {
    bool found = false;
    for (auto& e : kv)
      if (e.first == k) e.second = v, found = true;
    if (!found) kv.emplace_back(k, v);
  }
  std::string s = "{";
  for (const auto& [k, v] : kv)
    if (!v.empty()) s += (s.size() > 1 ? "," : "") + json_quote(k) + ":" + v;
  return s + "}";
}

struct OptDims {
  int vocab = 264, hidden = 32, layers = 2, heads = 4, ffn = 64, max_pos = 16;
};

inline Weights opt_weights(const OptDims& d, unsigned seed, const std::string& prefix = "model.") {
  Rng r(seed);
  Weights w;
  const uint64_t H = d.hidden, F = d.ffn;
  const std::string m = prefix + "decoder.";
  w[m + "embed_tokens.weight"] = {{uint64_t(d.vocab), H}, r.normal(d.vocab * H, 1.0f)};
  w[m + "embed_positions.weight"] = {{uint64_t(d.max_pos + 2), H}, r.normal((d.max_pos + 2) * H, 0.5f)};
  auto ln = [&](const std::string& n) {
    w[n + ".weight"] = {{H}, r.normal(H, 0.1f, 1.0f)};
    w[n + ".bias"] = {{H}, r.normal(H, 0.1f)};
  };
  auto lin = [&](const std::string& n, uint64_t out, uint64_t in) {
    w[n + ".weight"] = {{out, in}, r.normal(out * in, 0.25f)};
    w[n + ".bias"] = {{out}, r.normal(out, 0.1f)};
  };
  for (int l = 0; l < d.layers; ++l) {
    const std::string p = m + "layers." + std::to_string(l) + ".";
    ln(p + "self_attn_layer_norm");
    ln(p + "final_layer_norm");
    for (const char* s : {"q_proj", "k_proj", "v_proj", "out_proj"}) lin(p + "self_attn." + s, H, H);
    lin(p + "fc1", F, H);
    lin(p + "fc2", H, F);
  }
  ln(m + "final_layer_norm");
  return w;
}

inline std::string opt_config(const OptDims& d, const Overrides& o = {}) {
  const auto I = [](int v) { return std::to_string(v); };
  return config_json({{"architectures", "[\"OPTForCausalLM\"]"}, {"model_type", "\"opt\""},
                      {"hidden_size", I(d.hidden)}, {"num_hidden_layers", I(d.layers)},
                      {"num_attention_heads", I(d.heads)}, {"ffn_dim", I(d.ffn)}, {"vocab_size", I(d.vocab)},
                      {"max_position_embeddings", I(d.max_pos)}, {"do_layer_norm_before", "true"},
                      {"word_embed_proj_dim", I(d.hidden)}, {"activation_function", "\"relu\""},
                      {"enable_bias", "true"}, {"layer_norm_elementwise_affine", "true"},
                      {"tie_word_embeddings", "true"}, {"bos_token_id", "2"}},
                     o);
}

inline Mat layer_norm_ref(const Mat& x, const Tensor& w, const Tensor& b) {
  Mat y = x;
  for (auto& row : y) {
    double mean = 0, var = 0;
    for (double v : row) mean += v;
    mean /= double(row.size());
    for (double v : row) var += (v - mean) * (v - mean);
    var /= double(row.size());
    for (size_t i = 0; i < row.size(); ++i) row[i] = (row[i] - mean) / std::sqrt(var + 1e-5) * w.v[i] + b.v[i];
  }
  return y;
}

// HF OPTForCausalLM's forward, written out (q scaled after q_proj as HF does).
inline Mat opt_reference(const Weights& w, const OptDims& d, const std::vector<int32_t>& tokens,
                  const std::string& m = "model.decoder.") {
  const int hd = d.hidden / d.heads;
  const Tensor &E = w.at(m + "embed_tokens.weight"), &P = w.at(m + "embed_positions.weight");
  Mat x;
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::vector<double> row(size_t(d.hidden));
    for (int c = 0; c < d.hidden; ++c) row[c] = double(E.v[tokens[t] * d.hidden + c]) + P.v[(t + 2) * d.hidden + c];
    x.push_back(row);
  }
  auto W = [&](const std::string& n) -> const Tensor& { return w.at(n); };
  for (int l = 0; l < d.layers; ++l) {
    const std::string p = m + "layers." + std::to_string(l) + ".";
    const Mat xn = layer_norm_ref(x, W(p + "self_attn_layer_norm.weight"), W(p + "self_attn_layer_norm.bias"));
    Mat q = linear(xn, W(p + "self_attn.q_proj.weight"), &W(p + "self_attn.q_proj.bias"));
    for (auto& row : q)
      for (double& v : row) v *= std::pow(double(hd), -0.5);
    const Mat k = linear(xn, W(p + "self_attn.k_proj.weight"), &W(p + "self_attn.k_proj.bias"));
    const Mat v = linear(xn, W(p + "self_attn.v_proj.weight"), &W(p + "self_attn.v_proj.bias"));
    Mat att(x.size(), std::vector<double>(size_t(d.hidden)));
    for (int h = 0; h < d.heads; ++h) attend(q, k, v, size_t(h * hd), size_t(h * hd), size_t(hd), 1.0, att);
    const Mat o = linear(att, W(p + "self_attn.out_proj.weight"), &W(p + "self_attn.out_proj.bias"));
    for (size_t t = 0; t < x.size(); ++t)
      for (int c = 0; c < d.hidden; ++c) x[t][c] += o[t][c];
    const Mat hn = layer_norm_ref(x, W(p + "final_layer_norm.weight"), W(p + "final_layer_norm.bias"));
    Mat f = linear(hn, W(p + "fc1.weight"), &W(p + "fc1.bias"));
    for (auto& row : f)
      for (double& v : row) v = std::max(v, 0.0);
    const Mat f2 = linear(f, W(p + "fc2.weight"), &W(p + "fc2.bias"));
    for (size_t t = 0; t < x.size(); ++t)
      for (int c = 0; c < d.hidden; ++c) x[t][c] += f2[t][c];
  }
  return linear(layer_norm_ref(x, W(m + "final_layer_norm.weight"), W(m + "final_layer_norm.bias")), E);
}

inline void expect_close(const MatrixF& got, const Mat& want, double tol, const std::string& what) {
  ASSERT_EQ(size_t(got.rows()), want.size()) << what;
  ASSERT_EQ(size_t(got.cols()), want[0].size()) << what;
  double worst = 0;
  for (size_t t = 0; t < want.size(); ++t)
    for (size_t j = 0; j < want[t].size(); ++j)
      worst = std::max(worst, std::abs(double(got(long(t), long(j))) - want[t][j]) / (1.0 + std::abs(want[t][j])));
  EXPECT_LT(worst, tol) << what;
}

// A Llama checkpoint's tensors (HF names) with random values, `tied`: no lm_head.
struct LlamaDims {
  int vocab = 264, hidden = 32, layers = 2, heads = 4, kv_heads = 2, ffn = 48;
  double eps = 1e-5, theta = 10000.0;
};

inline Weights llama_weights(const LlamaDims& d, bool tied, unsigned seed) {
  Rng r(seed);
  Weights w;
  const uint64_t H = d.hidden, KV = uint64_t(d.kv_heads) * (d.hidden / d.heads), F = d.ffn;
  w["model.embed_tokens.weight"] = {{uint64_t(d.vocab), H}, r.normal(d.vocab * H, 1.0f)};
  for (int l = 0; l < d.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    w[p + "input_layernorm.weight"] = {{H}, r.normal(H, 0.1f, 1.0f)};
    w[p + "post_attention_layernorm.weight"] = {{H}, r.normal(H, 0.1f, 1.0f)};
    w[p + "self_attn.q_proj.weight"] = {{H, H}, r.normal(H * H, 0.3f)};
    w[p + "self_attn.k_proj.weight"] = {{KV, H}, r.normal(KV * H, 0.3f)};
    w[p + "self_attn.v_proj.weight"] = {{KV, H}, r.normal(KV * H, 0.3f)};
    w[p + "self_attn.o_proj.weight"] = {{H, H}, r.normal(H * H, 0.2f)};
    w[p + "mlp.gate_proj.weight"] = {{F, H}, r.normal(F * H, 0.2f)};
    w[p + "mlp.up_proj.weight"] = {{F, H}, r.normal(F * H, 0.2f)};
    w[p + "mlp.down_proj.weight"] = {{H, F}, r.normal(H * F, 0.2f)};
  }
  w["model.norm.weight"] = {{H}, r.normal(H, 0.1f, 1.0f)};
  if (!tied) w["lm_head.weight"] = {{uint64_t(d.vocab), H}, r.normal(d.vocab * H, 0.2f)};
  return w;
}

}  // namespace sqsim_test
