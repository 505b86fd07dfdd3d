#pragma once
// The tokenizer stored in a GGUF file's tokenizer.ggml.* keys, for every
// architecture (llama, opt).
#include <cstdint>

#include "sim/formats/gguf_file.h"
#include "sim/tokenizer/bpe_tokenizer.h"

namespace sqsim {

// Tokenizer from tokenizer.ggml.{tokens,merges,pre,token_type} (types 3 and 4 special).
BpeTokenizer tokenizer_from_gguf(const GgufFile& g);
// True when tokenizer.ggml.add_bos_token is present and true; then *bos is the BOS id.
bool gguf_adds_bos(const GgufFile& g, int32_t* bos);

}  // namespace sqsim
