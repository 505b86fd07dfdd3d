// Strict JSON parser: values, escapes, and refusals naming the file and byte.
#include <gtest/gtest.h>

#include <string>

#include "base/error.h"
#include "sim/formats/json.h"

using namespace sqsim;

namespace {
std::string error_of(const std::string& text, int depth = kJsonMaxDepth) {
  try {
    parse_json(text, "t.json", depth);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Json, ParsesEveryKindOfValue) {
  const JsonValue v = parse_json(
      " {\"a\": [1, -2, 3.5, 1e3, -0, 0.25E-1], \"b\": {\"c\": true, \"d\": false, \"e\": null}, \"s\": \"x\"}\n",
      "t.json");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.object.size(), 3u);
  EXPECT_EQ(v.object[0].first, "a");  // file order kept
  const JsonValue& a = *v.find("a");
  ASSERT_EQ(a.array.size(), 6u);
  EXPECT_TRUE(a.array[0].is_int);
  EXPECT_EQ(a.array[0].integer, 1);
  EXPECT_EQ(a.array[1].integer, -2);
  EXPECT_FALSE(a.array[2].is_int);
  EXPECT_DOUBLE_EQ(a.array[2].number, 3.5);
  EXPECT_FALSE(a.array[3].is_int);  // exponent form is not an integer literal
  EXPECT_DOUBLE_EQ(a.array[3].number, 1000.0);
  EXPECT_DOUBLE_EQ(a.array[5].number, 0.025);
  EXPECT_TRUE(v.find("b")->find("c")->boolean);
  EXPECT_FALSE(v.find("b")->find("d")->boolean);
  EXPECT_TRUE(v.find("b")->find("e")->is_null());
  EXPECT_EQ(v.find("s")->string, "x");
  EXPECT_EQ(v.find("nope"), nullptr);
}

TEST(Json, IntegersBeyondInt64AreNumbersButNotIntegers) {
  const JsonValue v = parse_json("[9223372036854775807, 9223372036854775808, -9223372036854775808]", "t.json");
  EXPECT_TRUE(v.array[0].is_int);
  EXPECT_EQ(v.array[0].integer, INT64_MAX);
  EXPECT_FALSE(v.array[1].is_int);
  EXPECT_TRUE(v.array[2].is_int);
  EXPECT_EQ(v.array[2].integer, INT64_MIN);
}

TEST(Json, StringEscapesAndSurrogatePairs) {
  const JsonValue v = parse_json(R"(["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "é€"])", "t.json");
  EXPECT_EQ(v.array[0].string, "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(v.array[1].string, "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(v.array[2].string, "\xF0\x9F\x98\x80");  // U+1F600 from a surrogate pair
  EXPECT_EQ(v.array[3].string, "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(parse_json(json_quote(std::string("q\"\\\n\x01z", 6)), "t.json").string, std::string("q\"\\\n\x01z", 6));
}

TEST(Json, RefusesMalformedInputNamingFileAndByte) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"{\"a\": 1,}", "expected a string key"},
      {"[1, 2,]", "unexpected character ']'"},
      {"{\"a\": 1, \"a\": 2}", "duplicate key \"a\""},
      {"[01]", "expected ',' or ']'"},
      {"[1.]", "expected a digit after '.'"},
      {"[-]", "expected a digit"},
      {"[1e]", "digit in the exponent"},
      {"\"\\ud800\"", "high surrogate not followed"},
      {"\"\\udc00\"", "unpaired low surrogate"},
      {"\"\\ud800\\u0041\"", "not followed by a low surrogate"},
      {"\"\\u12g4\"", "invalid hex digit"},
      {"\"\\x\"", "invalid escape"},
      {"\"a\nb\"", "control character"},
      {"\"\xC0\xAF\"", "invalid UTF-8"},
      {"\"\xED\xA0\x80\"", "invalid UTF-8"},  // surrogate encoded in UTF-8
      {"\"abc", "unterminated string"},
      {"tru", "invalid literal"},
      {"{} x", "unexpected text after"},
      {"", "unexpected end of input"},
      {"[1e999]", "out of range"},
      {"{\"a\" 1}", "expected ':'"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_EQ(e.rfind("t.json: JSON error at byte ", 0), 0u) << c.text << " -> " << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << c.text << " -> " << e;
  }
  EXPECT_NE(error_of("[1, 2,]").find("at byte 6"), std::string::npos) << error_of("[1, 2,]");
}

TEST(Json, NestingDepthIsBoundedWithoutRecursingDeep) {
  EXPECT_TRUE(error_of("[[[[]]]]", 4).empty());
  EXPECT_NE(error_of("[[[[[]]]]]", 4).find("nesting deeper than 4"), std::string::npos);
  // A million brackets must be refused, not overflow the stack.
  const std::string deep(1000000, '[');
  EXPECT_NE(error_of(deep).find("nesting deeper than"), std::string::npos);
  const std::string deep_obj = [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += "{\"a\":";
    return s;
  }();
  EXPECT_NE(error_of(deep_obj).find("nesting deeper than"), std::string::npos);
}

TEST(Json, TypedMembersNameTheKey) {
  const JsonValue v = parse_json(R"({"n": 2.5, "s": "x", "i": 3})", "c.json");
  EXPECT_EQ(json_int(v, "i", "c.json"), 3);
  EXPECT_DOUBLE_EQ(json_number(v, "n", "c.json"), 2.5);
  EXPECT_THROW(json_int(v, "n", "c.json"), Error);
  try {
    json_int(v, "missing", "c.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "c.json: missing key \"missing\"");
  }
  try {
    json_bool(v, "s", "c.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "c.json: \"s\" must be true or false, got string");
  }
}
