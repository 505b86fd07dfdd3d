#pragma once
// A model file or folder as sqsim loads it: the model, its tokenizer and the
// BOS it prepends, whatever the format (GGUF file or Hugging Face folder).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/models/causal_lm.h"
#include "sim/tokenizer/bpe_tokenizer.h"

namespace sqsim {

// A model file or folder with its tokenizer.
struct LoadedModel {
  std::unique_ptr<CausalLm> model;
  std::unique_ptr<BpeTokenizer> tokenizer;
  std::optional<int32_t> bos;  // prepended to the text when the model asks for it
  std::string path;
};

// A GGUF file (llama or opt architecture), or a Hugging Face checkpoint folder
// (config.json + safetensors + tokenizer.json; llama or opt; sim/models/hf_checkpoint.h).
LoadedModel load_model(const std::string& path);

// Tokenizes `text` the way the model's tokenizer does by default (BOS when asked).
std::vector<int32_t> tokenize_document(const LoadedModel& m, const std::string& text);

}  // namespace sqsim
