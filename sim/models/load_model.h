#pragma once
// A model file or folder as sqsim loads it: the model, its tokenizer and the
// BOS it prepends, whatever the format (GGUF file or Hugging Face folder).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/models/causal_lm.h"
#include "sim/tokenizer/tokenizer.h"

namespace sqsim {

// A model file or folder with its tokenizer.
struct LoadedModel {
  std::unique_ptr<CausalLm> model;
  std::unique_ptr<Tokenizer> tokenizer;  // BpeTokenizer or SpmTokenizer
  std::optional<int32_t> bos;  // prepended to the text when the model asks for it
  std::string path;
};

// A model's tokenizer alone, without its weights.
struct LoadedTokenizer {
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<int32_t> bos;
};

class JsonValue;

// A model family as the loaders find it: by the name both a GGUF file
// (general.architecture) and a Hugging Face config.json (model_type) give it.
// Each family is one row of the list in load_model.cpp.
struct ModelFamily {
  const char* arch;  // "llama"
  std::unique_ptr<CausalLm> (*from_gguf)(const std::string& path);
  // From a checkpoint folder whose config.json (config, read from
  // config_path) names this family: the config is checked before any weight.
  std::unique_ptr<CausalLm> (*from_hf)(const JsonValue& config, const std::string& config_path,
                                       const std::string& dir);
};
// The family called `arch`, or nullptr.
const ModelFamily* find_model_family(const std::string& arch);
// The families' names for a message: "llama or opt".
std::string model_family_names();

// A GGUF file (any family's architecture), or a Hugging Face checkpoint folder
// (config.json + safetensors + tokenizer.json; sim/models/hf_checkpoint.h).
LoadedModel load_model(const std::string& path);

// The tokenizer of a GGUF file (any architecture, even one sqsim has no
// forward for) or of a Hugging Face folder (through load_model).
LoadedTokenizer load_tokenizer(const std::string& path);

// Tokenizes `text` the way the model's tokenizer does by default (BOS when asked).
std::vector<int32_t> tokenize_document(const LoadedModel& m, const std::string& text);

}  // namespace sqsim
