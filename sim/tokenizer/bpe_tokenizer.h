#pragma once
// Byte-level BPE tokenizer (GPT-2 style), as used by SmolLM2 (docs/tokenizer.md).
// Built from plain data (tokens in id order, merges "a b" by rank, the
// pre-tokenizer name) so that any loader (GGUF, fixture files) can feed it.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/tokenizer/tokenizer.h"

namespace sqsim {

class BpeTokenizer : public Tokenizer {
 public:
  // tokens: vocabulary in id order, in byte-level form (bytes mapped through the
  //   GPT-2 byte-to-unicode table, e.g. "Ġthe"); special tokens are literal text.
  // merges: "left right" pairs, highest priority first.
  // pre: pre-tokenizer name, "gpt2" or "smollm" (GPT-2 regex after splitting
  //   every numeric character off on its own).
  // special_tokens: tokens of the vocabulary matched literally in the input text.
  // Throws Error on duplicate tokens, merges naming unknown tokens, bad names.
  BpeTokenizer(std::vector<std::string> tokens, const std::vector<std::string>& merges, const std::string& pre,
               const std::vector<std::string>& special_tokens = {});

  // Reads the fixture format of docs/tokenizer.md: vocab file (header
  // "sqsim-bpe-vocab 1 pre=NAME count=N", then "TYPE<TAB>escaped token" per
  // line, type 3 = control token, matched literally) and merges file (header
  // "sqsim-bpe-merges 1 count=M", then "left right" per line).
  static BpeTokenizer from_files(const std::string& vocab_path, const std::string& merges_path);

  // UTF-8 text (invalid bytes are kept as single bytes) to token ids; no BOS/EOS added.
  std::vector<int32_t> encode(const std::string& text) const override;
  // Token ids to bytes; throws Error on an id outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids) const override;

  // Splits text (containing no special token) into pre-tokens, in raw bytes.
  std::vector<std::string> pre_tokenize(const std::string& text) const;

  size_t vocab_size() const override { return tokens_.size(); }
  const std::string& token(int32_t id) const;
  const std::string& pre_tokenizer() const { return pre_; }
  // Id of a token in byte-level form, or -1.
  int32_t find(const std::string& token) const;

 private:
  struct Merge {
    uint32_t rank;
    int32_t result;
  };
  static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  void encode_word(const std::string& word, std::vector<int32_t>& out) const;
  void encode_plain(const std::string& text, std::vector<int32_t>& out,
                    std::unordered_map<std::string, std::vector<int32_t>>& cache) const;

  std::vector<std::string> tokens_;
  std::vector<bool> special_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<std::pair<std::string, int32_t>> specials_;  // longest first
  int32_t byte_token_[256];                                  // -1 when absent
  std::string pre_;
  bool split_digits_ = false;
};

}  // namespace sqsim
