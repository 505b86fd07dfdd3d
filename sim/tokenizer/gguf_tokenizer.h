#pragma once
// The tokenizer stored in a GGUF file's tokenizer.ggml.* keys, for every
// architecture (llama, opt, gemma3, ...).
#include <cstdint>
#include <memory>

#include "sim/formats/gguf_file.h"
#include "sim/tokenizer/bpe_tokenizer.h"
#include "sim/tokenizer/spm_tokenizer.h"

namespace sqsim {

// The file's tokenizer by tokenizer.ggml.model: "gpt2" (or the key absent)
// gives a BpeTokenizer, "llama" an SpmTokenizer; any other value is refused
// naming the file and key.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& g);
// Byte-level BPE from tokenizer.ggml.{tokens,merges,pre,token_type} (types 3 and 4 special).
BpeTokenizer tokenizer_from_gguf(const GgufFile& g);
// SentencePiece-style from tokenizer.ggml.{tokens,scores,token_type,
// add_space_prefix (default true, as llama.cpp), unknown_token_id}.
SpmTokenizer spm_tokenizer_from_gguf(const GgufFile& g);
// True when tokenizer.ggml.add_bos_token is present and true; then *bos is the BOS id.
bool gguf_adds_bos(const GgufFile& g, int32_t* bos);

}  // namespace sqsim
