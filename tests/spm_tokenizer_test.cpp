// SentencePiece-style tokenizer (llama.cpp's "llama" vocabulary) on a tiny
// hand-made vocabulary: merge order by score, byte fallback, the space mark,
// the space prefix, literal tokens, decode; and the GGUF loader's choice and
// refusals. tests/python/test_spm_tokenizer.py checks the Gemma 3 vocabulary
// against transformers on WikiText-2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "sim/formats/gguf_file.h"
#include "sim/tokenizer/gguf_tokenizer.h"
#include "sim/tokenizer/spm_tokenizer.h"
#include "tests/gguf_writer.h"

namespace {

using sqsim::Error;
using sqsim::SpmTokenizer;
using Ids = std::vector<int32_t>;

const std::string kMark = "\xE2\x96\x81";  // ▁

// ids: 0 <unk>(2) 1 <s>(3) 2 <0x41>(6, 'A') 3 <0xC3>(6) 4 <0xA9>(6) 5 a 6 b 7 c 8 ab 9 bc 10 abc
// 11 ▁ 12 ▁a 13 <br>(4) 14 ▁ab
SpmTokenizer tiny(bool space_prefix, float ab_score = -1.0f, float bc_score = -2.0f) {
  std::vector<std::string> t = {"<unk>", "<s>", "<0x41>", "<0xC3>", "<0xA9>", "a", "b", "c",
                                "ab", "bc", "abc", kMark, kMark + "a", "<br>", kMark + "ab"};
  std::vector<float> s = {0, 0, 0, 0, 0, -10, -10, -10, ab_score, bc_score, -3, -10, -4, 0, -5};
  std::vector<int32_t> ty = {2, 3, 6, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1};
  return SpmTokenizer(t, s, ty, space_prefix, 0);
}

TEST(SpmTokenizer, HighestScoreMergesFirst) {
  // "abc": ab (-1) beats bc (-2), then ab + c = abc (-3) is a token.
  EXPECT_EQ(tiny(false).encode("abc"), (Ids{10}));
  // "bca": bc merges; bc + a is no token.
  EXPECT_EQ(tiny(false).encode("bca"), (Ids{9, 5}));
  // With bc scored above ab, "abc" merges b c first; a + bc = abc still.
  EXPECT_EQ(tiny(false, -2.0f, -1.0f).encode("abc"), (Ids{10}));
  // "abab": ties broken leftmost: ab ab (then ab + ab is no token).
  EXPECT_EQ(tiny(false).encode("abab"), (Ids{8, 8}));
}

TEST(SpmTokenizer, SpacesBecomeMarksAndPrefix) {
  EXPECT_EQ(tiny(false).encode("a ab"), (Ids{5, 14}));       // a, ▁ab
  EXPECT_EQ(tiny(true).encode("a ab"), (Ids{12, 14}));       // ▁a, ▁ab
  EXPECT_EQ(tiny(false).encode(" "), (Ids{11}));
  EXPECT_EQ(tiny(true).decode({12, 14}), "a ab");            // the prefix space dropped again
  EXPECT_EQ(tiny(false).decode({11, 12}), "  a");
}

TEST(SpmTokenizer, ByteFallbackAndUnknown) {
  // 'A' has a byte token; "é" (C3 A9) is no token: its two byte tokens.
  EXPECT_EQ(tiny(false).encode("A\xC3\xA9" "a"), (Ids{2, 3, 4, 5}));
  // 'Z' has neither: the unknown token.
  EXPECT_EQ(tiny(false).encode("Z"), (Ids{0}));
  EXPECT_EQ(tiny(false).decode({2, 3, 4, 5}), "A\xC3\xA9" "a");
  // Without an unknown token such a byte is refused.
  SpmTokenizer no_unk({"a"}, {0.0f}, {}, false, -1);
  EXPECT_THROW(no_unk.encode("Z"), Error);
}

TEST(SpmTokenizer, LiteralTokensSplitTheText) {
  // <br> (user-defined) and <s> (control) match literally; the space prefix
  // follows each literal match.
  EXPECT_EQ(tiny(false).encode("ab<br>ab"), (Ids{8, 13, 8}));
  EXPECT_EQ(tiny(true).encode("a<s>a"), (Ids{12, 1, 12}));
  EXPECT_EQ(tiny(false).decode({8, 13, 1}), "ab<br><s>");
}

TEST(SpmTokenizer, RefusesMalformedVocabularies) {
  auto message = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message([] { SpmTokenizer({"a", "a"}, {0, 0}, {}, false); }).find("duplicate token 'a'"), std::string::npos);
  EXPECT_NE(message([] { SpmTokenizer({"a"}, {0, 0}, {}, false); }).find("2 scores for 1 tokens"), std::string::npos);
  EXPECT_NE(message([] { SpmTokenizer({"<0xZZ>"}, {0}, {6}, false); }).find("expected <0xXX>"), std::string::npos);
  EXPECT_NE(message([] { SpmTokenizer({"a"}, {0}, {9}, false); }).find("type 9"), std::string::npos);
  EXPECT_THROW(tiny(false).decode({15}), Error);
}

// A GGUF holding only a tokenizer: tokenizer.ggml.model picks the class.
std::vector<uint8_t> tokenizer_gguf(const std::string& model) {
  sqsim_test::Bytes k;
  uint64_t n = 0;
  k.str("tokenizer.ggml.model"); k.u32(8); k.str(model); ++n;
  k.str("tokenizer.ggml.tokens"); k.u32(9); k.u32(8); k.u64(3); k.str("a"); k.str("b"); k.str("ab"); ++n;
  k.str("tokenizer.ggml.scores"); k.u32(9); k.u32(6); k.u64(3); k.f32(-1); k.f32(-1); k.f32(-0.5f); ++n;
  k.str("tokenizer.ggml.add_space_prefix"); k.u32(7); k.u8(0); ++n;
  return sqsim_test::build(3, n, k.b, {});
}

TEST(SpmTokenizer, GgufPicksTheTokenizerByModel) {
  const auto t = sqsim::load_gguf_tokenizer(sqsim::GgufFile::parse(tokenizer_gguf("llama"), "spm.gguf"));
  ASSERT_NE(dynamic_cast<const SpmTokenizer*>(t.get()), nullptr);
  EXPECT_EQ(t->encode("ab"), (Ids{2}));
  EXPECT_EQ(t->vocab_size(), 3u);
  try {
    sqsim::load_gguf_tokenizer(sqsim::GgufFile::parse(tokenizer_gguf("t5"), "t5.gguf"));
    ADD_FAILURE() << "t5 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t5.gguf: tokenizer.ggml.model = 't5' is not supported"), std::string::npos)
        << e.what();
  }
}

}  // namespace
