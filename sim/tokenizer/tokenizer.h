#pragma once
// What every tokenizer offers the rest of sqsim: text to ids, ids to text,
// and the vocabulary size. BpeTokenizer (byte-level BPE, GPT-2 style) and
// SpmTokenizer (SentencePiece-style, llama.cpp's "llama" vocabulary)
// implement it, so a loaded model holds either (docs/tokenizer.md).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sqsim {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // UTF-8 text to token ids; no BOS/EOS added.
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  // Token ids to bytes; throws Error on an id outside the vocabulary.
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual size_t vocab_size() const = 0;
};

}  // namespace sqsim
