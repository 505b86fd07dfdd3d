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

bool gguf_adds_bos(const GgufFile& g, int32_t* bos) {
  if (!g.has("tokenizer.ggml.add_bos_token") || !g.get_bool("tokenizer.ggml.add_bos_token")) return false;
  if (bos) *bos = int32_t(g.get_int("tokenizer.ggml.bos_token_id"));
  return true;
}

}  // namespace sqsim
