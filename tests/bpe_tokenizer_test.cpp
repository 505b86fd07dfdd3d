#include "sim/tokenizer/bpe_tokenizer.h"
#include "tests/real_data.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "base/error.h"

namespace sqsim {
namespace {

using Ids = std::vector<int32_t>;
using Strs = std::vector<std::string>;

// Byte-level forms: ' ' -> "Ġ" (U+0120), '\n' -> "Ċ" (U+010A), 0x00 -> "Ā" (U+0100).
const char* kSpace = "\xC4\xA0";
const char* kNewline = "\xC4\x8A";
const char* kNul = "\xC4\x80";

Strs tiny_vocab() {
  return {"a", "b", "c", "ab", "bc", "abc", kSpace, std::string(kSpace) + "a", kNewline, "1", "2", "'", "t",
          "x", kNul, "<|end|>"};
}

TEST(BpeTokenizer, MergePriorityFollowsRank) {
  // "b c" outranks "a b": abc -> a + bc -> abc.
  BpeTokenizer t1(tiny_vocab(), {"b c", "a bc", "a b"}, "gpt2");
  EXPECT_EQ(t1.encode("abc"), (Ids{5}));
  BpeTokenizer t2(tiny_vocab(), {"b c", "a b"}, "gpt2");
  EXPECT_EQ(t2.encode("abc"), (Ids{0, 4}));
  BpeTokenizer t3(tiny_vocab(), {"a b", "b c"}, "gpt2");
  EXPECT_EQ(t3.encode("abc"), (Ids{3, 2}));
  // Overlapping occurrences merge left to right.
  BpeTokenizer t4({"a", "aa"}, {"a a"}, "gpt2");
  EXPECT_EQ(t4.encode("aaa"), (Ids{1, 0}));
  EXPECT_EQ(t4.encode("aaaa"), (Ids{1, 1}));
}

TEST(BpeTokenizer, SpacesNewlinesAndByteFallback) {
  BpeTokenizer t(tiny_vocab(), {std::string(kSpace) + " a"}, "gpt2");
  EXPECT_EQ(t.encode("a a"), (Ids{0, 7}));
  EXPECT_EQ(t.encode("a\n\na"), (Ids{0, 8, 8, 0}));
  EXPECT_EQ(t.encode("a  a"), (Ids{0, 6, 7}));
  // Byte 0x00 has the byte-level form U+0100.
  EXPECT_EQ(t.encode(std::string("a\0", 2)), (Ids{0, 14}));
  EXPECT_EQ(t.decode({0, 14, 7}), std::string("a\0 a", 4));
  // A byte whose byte-level form is missing from the vocabulary is refused by name.
  try {
    t.encode("z");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("byte 0x7A"), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizer, PreTokenizerGpt2Rule) {
  BpeTokenizer t({"a"}, {}, "gpt2");
  EXPECT_EQ(t.pre_tokenize("Hello world"), (Strs{"Hello", " world"}));
  EXPECT_EQ(t.pre_tokenize("a  b"), (Strs{"a", " ", " b"}));
  EXPECT_EQ(t.pre_tokenize("x\n\ny"), (Strs{"x", "\n", "\n", "y"}));
  EXPECT_EQ(t.pre_tokenize("x \n y"), (Strs{"x", " \n", " y"}));
  EXPECT_EQ(t.pre_tokenize("end  "), (Strs{"end", "  "}));
  EXPECT_EQ(t.pre_tokenize("don't they'll"), (Strs{"don", "'t", " they", "'ll"}));
  EXPECT_EQ(t.pre_tokenize("a, b!! ?"), (Strs{"a", ",", " b", "!!", " ?"}));
  EXPECT_EQ(t.pre_tokenize("abc 123x"), (Strs{"abc", " 123", "x"}));
  // Latin-1 letters and non-Latin scripts are letters; × and ½ are not.
  EXPECT_EQ(t.pre_tokenize("caf\xC3\xA9 \xC3\x97 \xD0\xBC\xD0\xB8\xD1\x80"),
            (Strs{"caf\xC3\xA9", " \xC3\x97", " \xD0\xBC\xD0\xB8\xD1\x80"}));
  EXPECT_EQ(t.pre_tokenize("1\xC2\xBD"), (Strs{"1\xC2\xBD"}));
  // Beyond Latin-1: U+2148 (Ll) and U+1200 (Ethiopic, Lo) are letters, U+0301 (Mn) is not.
  EXPECT_EQ(t.pre_tokenize("a\xE2\x85\x88's \xE1\x88\x80x e\xCC\x81"),
            (Strs{"a\xE2\x85\x88", "'s", " \xE1\x88\x80x", " e", "\xCC\x81"}));
  // No-break space is whitespace but does not lead a word.
  EXPECT_EQ(t.pre_tokenize("a\xC2\xA0" "b"), (Strs{"a", "\xC2\xA0", "b"}));
  // Invalid UTF-8 bytes are kept, one by one, as "other" characters.
  EXPECT_EQ(t.pre_tokenize("a\xFF\xFE b"), (Strs{"a", "\xFF\xFE", " b"}));
}

TEST(BpeTokenizer, PreTokenizerSmollmSplitsDigits) {
  BpeTokenizer t({"a"}, {}, "smollm");
  EXPECT_EQ(t.pre_tokenize("abc 123x"), (Strs{"abc", " ", "1", "2", "3", "x"}));
  EXPECT_EQ(t.pre_tokenize("$5.00 ok"), (Strs{"$", "5", ".", "0", "0", " ok"}));
  EXPECT_EQ(t.pre_tokenize("x  9"), (Strs{"x", "  ", "9"}));
}

TEST(BpeTokenizer, SpecialTokensMatchLiterally) {
  BpeTokenizer t(tiny_vocab(), {"a b"}, "gpt2", {"<|end|>"});
  EXPECT_EQ(t.encode("ab<|end|>a<|end|>"), (Ids{3, 15, 0, 15}));
  EXPECT_EQ(t.decode({3, 15, 0}), "ab<|end|>a");
  // Without declaring it special, the text is ordinary bytes (here: unknown).
  BpeTokenizer plain(tiny_vocab(), {"a b"}, "gpt2");
  EXPECT_THROW(plain.encode("<|end|>"), Error);
}

TEST(BpeTokenizer, RefusesMalformedData) {
  auto message = [](auto&& make) {
    try {
      make();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { BpeTokenizer({"a", "b", "a"}, {}, "gpt2"); }).find("duplicate token 'a'"), std::string::npos);
  EXPECT_NE(message([] { BpeTokenizer({"a", "b"}, {"a b"}, "gpt2"); }).find("unknown token 'ab'"), std::string::npos);
  EXPECT_NE(message([] { BpeTokenizer({"a", "ab"}, {"a b"}, "gpt2"); }).find("unknown token 'b'"), std::string::npos);
  EXPECT_NE(message([] { BpeTokenizer({"a"}, {"ab"}, "gpt2"); }).find("not 'left right'"), std::string::npos);
  EXPECT_NE(message([] { BpeTokenizer({"a"}, {}, "llama3"); }).find("unsupported pre-tokenizer 'llama3'"), std::string::npos);
  EXPECT_NE(message([] { BpeTokenizer({"a"}, {}, "gpt2", {"<s>"}); }).find("special token '<s>'"), std::string::npos);
  EXPECT_THROW(BpeTokenizer({"a"}, {}, "gpt2").decode({1}), Error);
  EXPECT_THROW(BpeTokenizer::from_files("/nonexistent/vocab.txt", "/nonexistent/merges.txt"), Error);
}

// ---- SmolLM2-135M-Instruct's tokenizer (fixture dumped from the GGUF file) ----

const std::string kData = SQSIM_TEST_DATA_DIR;

const BpeTokenizer& smollm2() {
  static const BpeTokenizer t =
      BpeTokenizer::from_files(kData + "/smollm2.vocab.txt", kData + "/smollm2.merges.txt");
  return t;
}

std::string read_text(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = bool(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str(), out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;  // CRLF -> LF
    out += s[i];
  }
  return out;
}

std::string first_lines(const std::string& text, size_t n) {
  size_t pos = 0;
  for (size_t i = 0; i < n && pos != std::string::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  return pos == std::string::npos ? text : text.substr(0, pos);
}

TEST(BpeTokenizerSmolLM2, FixtureLoads) {
  const BpeTokenizer& t = smollm2();
  EXPECT_EQ(t.vocab_size(), 49152u);
  EXPECT_EQ(t.pre_tokenizer(), "smollm");
  EXPECT_EQ(t.token(0), "<|endoftext|>");
  EXPECT_EQ(t.encode("<|im_start|>user\nHi<|im_end|>").front(), 1);
  EXPECT_EQ(t.encode("<|im_start|>user\nHi<|im_end|>").back(), 2);
}

TEST(BpeTokenizerSmolLM2, WikiText2First300LinesMatchHuggingFace) {
  bool ok = false;
  const std::string text = read_text(sqsim_test::kWiki, &ok);
  if (!ok) GTEST_SKIP() << "shared WikiText-2 test text not present";
  std::ifstream in(kData + "/smollm2_wikitext2_test_300.ids.txt");
  ASSERT_TRUE(in) << "missing expected ids";
  Ids expected;
  for (int32_t id; in >> id;) expected.push_back(id);
  const Ids got = smollm2().encode(first_lines(text, 300));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "first mismatch at token " << i;
}

TEST(BpeTokenizerSmolLM2, DecodeInvertsEncode) {
  const BpeTokenizer& t = smollm2();
  for (const std::string& s : {std::string("Hello, world! 12,345.6 don't  stop\n\n\tend "),
                               std::string("caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"),
                               std::string("stray \x80 continuation \xE2\x82 bytes"), std::string("<|im_start|>x<|im_end|>"),
                               std::string("")}) {
    EXPECT_EQ(t.decode(t.encode(s)), s);
  }
  // Bytes that never occur in UTF-8 (0xF5..0xFF) have no token in SmolLM2's vocabulary.
  EXPECT_THROW(t.encode("\xFF"), Error);
  bool ok = false;
  const std::string text = read_text(sqsim_test::kWiki, &ok);
  if (!ok) GTEST_SKIP() << "shared WikiText-2 test text not present";
  const auto t0 = std::chrono::steady_clock::now();
  const Ids ids = t.encode(text);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 20.0) << "whole WikiText-2 test text took " << s << " s";
  EXPECT_EQ(t.decode(ids), text);
}

}  // namespace
}  // namespace sqsim
