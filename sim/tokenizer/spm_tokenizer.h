#pragma once
// SentencePiece-style tokenizer as llama.cpp runs a GGUF "llama" vocabulary
// (tokenizer.ggml.model = "llama"; Llama 2, Gemma): spaces become U+2581
// "▁", adjacent pieces merge by the highest token score, and text no token
// covers falls back to byte tokens <0xXX>. Algorithm: docs/tokenizer.md.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sim/tokenizer/tokenizer.h"

namespace sqsim {

class SpmTokenizer : public Tokenizer {
 public:
  // GGUF token types (tokenizer.ggml.token_type).
  enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

  // tokens, scores, types: the vocabulary in id order (types may be empty:
  //   all normal). Control and user-defined tokens are matched literally in
  //   the input text before anything else; byte tokens are spelled "<0xXX>".
  // add_space_prefix: a space is put before the text and after each literal
  //   token match (llama.cpp's behaviour; SentencePiece's add_dummy_prefix).
  // unknown_id: emitted for a byte that has no <0xXX> token (-1: refuse it).
  // Throws Error on duplicate or empty tokens, mismatched lengths, a
  // non-finite score, or an unknown type.
  SpmTokenizer(std::vector<std::string> tokens, std::vector<float> scores, std::vector<int32_t> types,
               bool add_space_prefix, int32_t unknown_id = -1);

  std::vector<int32_t> encode(const std::string& text) const override;
  // Byte tokens give their byte, "▁" gives a space, control tokens their text.
  std::string decode(const std::vector<int32_t>& ids) const override;
  size_t vocab_size() const override { return tokens_.size(); }

  const std::string& token(int32_t id) const;
  // Id of a token as the vocabulary spells it, or -1.
  int32_t find(const std::string& token) const;

 private:
  void encode_piece(const std::string& text, std::vector<int32_t>& out) const;
  void push_bytes(const std::string& text, size_t start, size_t len, std::vector<int32_t>& out) const;

  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<int32_t> types_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::pair<std::string, int32_t>> literals_;  // control and user-defined, longest first
  std::vector<std::pair<std::string, int32_t>> literals_by_byte_[256];  // the same, by first byte
  int32_t byte_token_[256];                                 // -1 when absent
  bool add_space_prefix_;
  int32_t unknown_id_;
};

}  // namespace sqsim
