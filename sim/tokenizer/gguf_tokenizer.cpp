#include "sim/tokenizer/gguf_tokenizer.h"

#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

BpeTokenizer tokenizer_from_gguf(const GgufFile& g) {
  std::vector<std::string> tokens = g.get_string_array("tokenizer.ggml.tokens");
  const std::vector<std::string> merges =
      g.has("tokenizer.ggml.merges") ? g.get_string_array("tokenizer.ggml.merges") : std::vector<std::string>{};
  const std::string pre = g.has("tokenizer.ggml.pre") ? g.get_string("tokenizer.ggml.pre") : "gpt2";
  std::vector<std::string> specials;
  if (g.has("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = g.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != tokens.size())
      throw Error(str(g.path(), ": tokenizer.ggml.token_type has ", types.size(), " entries for ", tokens.size(),
                      " tokens"));
    for (size_t i = 0; i < types.size(); ++i)
      if (types[i] == 3 || types[i] == 4) specials.push_back(tokens[i]);
  }
  return BpeTokenizer(std::move(tokens), merges, pre, specials);
}

SpmTokenizer spm_tokenizer_from_gguf(const GgufFile& g) {
  std::vector<std::string> tokens = g.get_string_array("tokenizer.ggml.tokens");
  const GgufValue& sv = g.get("tokenizer.ggml.scores");
  if (sv.type != GgufValueType::ARRAY || sv.items.size() != tokens.size())
    throw Error(str(g.path(), ": tokenizer.ggml.scores: expected an array of ", tokens.size(), " floats"));
  std::vector<float> scores;
  scores.reserve(tokens.size());
  for (const GgufValue& v : sv.items) {
    if (!v.is_float()) throw Error(str(g.path(), ": tokenizer.ggml.scores: expected float elements"));
    scores.push_back(float(v.f));
  }
  std::vector<int32_t> types;
  if (g.has("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> t = g.get_int_array("tokenizer.ggml.token_type");
    if (t.size() != tokens.size())
      throw Error(str(g.path(), ": tokenizer.ggml.token_type has ", t.size(), " entries for ", tokens.size(),
                      " tokens"));
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] < 1 || t[i] > 6)
        throw Error(str(g.path(), ": tokenizer.ggml.token_type[", i, "] = ", t[i], " (expected 1..6)"));
      types.push_back(int32_t(t[i]));
    }
  }
  const bool space_prefix =
      g.has("tokenizer.ggml.add_space_prefix") ? g.get_bool("tokenizer.ggml.add_space_prefix") : true;
  int32_t unknown = -1;
  if (g.has("tokenizer.ggml.unknown_token_id")) {
    const int64_t u = g.get_int("tokenizer.ggml.unknown_token_id");
    if (u < 0 || u >= int64_t(tokens.size()))
      throw Error(str(g.path(), ": tokenizer.ggml.unknown_token_id ", u, " is outside the vocabulary of ",
                      tokens.size()));
    unknown = int32_t(u);
  }
  try {
    return SpmTokenizer(std::move(tokens), std::move(scores), std::move(types), space_prefix, unknown);
  } catch (const Error& e) {
    throw Error(g.path() + ": " + e.what());
  }
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& g) {
  const std::string model = g.has("tokenizer.ggml.model") ? g.get_string("tokenizer.ggml.model") : "gpt2";
  if (model == "gpt2") return std::make_unique<BpeTokenizer>(tokenizer_from_gguf(g));
  if (model == "llama") return std::make_unique<SpmTokenizer>(spm_tokenizer_from_gguf(g));
  throw Error(g.path() + ": tokenizer.ggml.model = '" + model +
              "' is not supported (expected gpt2, byte-level BPE, or llama, SentencePiece-style)");
}

bool gguf_adds_bos(const GgufFile& g, int32_t* bos) {
  if (!g.has("tokenizer.ggml.add_bos_token") || !g.get_bool("tokenizer.ggml.add_bos_token")) return false;
  if (bos) *bos = int32_t(g.get_int("tokenizer.ggml.bos_token_id"));
  return true;
}

}  // namespace sqsim
