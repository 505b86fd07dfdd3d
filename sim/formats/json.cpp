#include "sim/formats/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"

namespace sqsim {

namespace {

class Parser {
 public:
  Parser(std::string_view s, const std::string& what, int max_depth) : s_(s), what_(what), max_depth_(max_depth) {}

  JsonValue document() {
    skip_ws();
    JsonValue v = value(0);
    skip_ws();
    if (p_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(what_ + ": JSON error at byte " + std::to_string(p_) + ": " + msg);
  }
  bool at_end() const { return p_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[p_]; }
  void skip_ws() {
    while (!at_end() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  void expect_word(const char* w) {
    for (const char* c = w; *c; ++c) {
      if (at_end() || s_[p_] != *c) fail(std::string("invalid literal (expected '") + w + "')");
      ++p_;
    }
  }

  JsonValue value(int depth) {
    if (at_end()) fail("unexpected end of input (expected a value)");
    JsonValue v;
    switch (s_[p_]) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"':
        v.type = JsonValue::Type::String;
        v.string = string();
        return v;
      case 't':
        expect_word("true");
        v.type = JsonValue::Type::Bool;
        v.boolean = true;
        return v;
      case 'f':
        expect_word("false");
        v.type = JsonValue::Type::Bool;
        return v;
      case 'n':
        expect_word("null");
        return v;
      default:
        if (s_[p_] == '-' || (s_[p_] >= '0' && s_[p_] <= '9')) return number();
        fail(std::string("unexpected character '") + printable(s_[p_]) + "'");
    }
  }

  static std::string printable(char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    char b[8];
    std::snprintf(b, sizeof b, "\\x%02x", u);
    return b;
  }

  void check_depth(int depth) {
    if (depth > max_depth_) fail("nesting deeper than " + std::to_string(max_depth_));
  }

  JsonValue object(int depth) {
    check_depth(depth);
    JsonValue v;
    v.type = JsonValue::Type::Object;
    ++p_;  // '{'
    skip_ws();
    if (peek() == '}') {
      ++p_;
      return v;
    }
    std::unordered_set<std::string> seen;
    for (;;) {
      skip_ws();
      if (peek() != '"') fail("expected a string key");
      const size_t key_at = p_;
      std::string key = string();
      if (!seen.insert(key).second) {
        p_ = key_at;
        fail("duplicate key \"" + key + "\"");
      }
      skip_ws();
      if (peek() != ':') fail("expected ':' after a key");
      ++p_;
      skip_ws();
      JsonValue member = value(depth);
      v.object.emplace_back(std::move(key), std::move(member));
      skip_ws();
      if (peek() == ',') {
        ++p_;
        continue;
      }
      if (peek() == '}') {
        ++p_;
        return v;
      }
      fail("expected ',' or '}' in an object");
    }
  }

  JsonValue array(int depth) {
    check_depth(depth);
    JsonValue v;
    v.type = JsonValue::Type::Array;
    ++p_;  // '['
    skip_ws();
    if (peek() == ']') {
      ++p_;
      return v;
    }
    for (;;) {
      skip_ws();
      v.array.push_back(value(depth));
      skip_ws();
      if (peek() == ',') {
        ++p_;
        continue;
      }
      if (peek() == ']') {
        ++p_;
        return v;
      }
      fail("expected ',' or ']' in an array");
    }
  }

  JsonValue number() {
    const size_t start = p_;
    bool integral = true;
    if (peek() == '-') ++p_;
    if (peek() == '0') {
      ++p_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++p_;
    } else {
      fail("invalid number (expected a digit)");
    }
    if (peek() == '.') {
      integral = false;
      ++p_;
      if (!(peek() >= '0' && peek() <= '9')) fail("invalid number (expected a digit after '.')");
      while (peek() >= '0' && peek() <= '9') ++p_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      if (!(peek() >= '0' && peek() <= '9')) fail("invalid number (expected a digit in the exponent)");
      while (peek() >= '0' && peek() <= '9') ++p_;
    }
    const std::string text(s_.substr(start, p_ - start));
    JsonValue v;
    v.type = JsonValue::Type::Number;
    // strtod on the validated text: the grammar above already matches what
    // strtod accepts, so no locale-dependent surprises beyond the decimal point,
    // which the "C" locale sqsim runs in makes '.'.
    v.number = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v.number)) {
      p_ = start;
      fail("number out of range");
    }
    if (integral) {
      int64_t i = 0;
      const auto r = std::from_chars(text.data(), text.data() + text.size(), i);
      if (r.ec == std::errc() && r.ptr == text.data() + text.size()) {
        v.is_int = true;
        v.integer = i;
      }
    }
    return v;
  }

  unsigned hex4() {
    if (s_.size() - p_ < 4) fail("truncated \\u escape");
    unsigned u = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[p_++];
      u <<= 4;
      if (c >= '0' && c <= '9') u |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') u |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') u |= unsigned(c - 'A' + 10);
      else {
        --p_;
        fail("invalid hex digit in a \\u escape");
      }
    }
    return u;
  }

  // Length of the valid UTF-8 sequence starting at p_, or 0.
  size_t utf8_length() const { return decode_utf8(s_, p_); }

  std::string string() {
    ++p_;  // opening quote
    std::string out;
    for (;;) {
      if (at_end()) fail("unterminated string");
      const char c = s_[p_];
      if (c == '"') {
        ++p_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string (must be escaped)");
      if (c == '\\') {
        ++p_;
        if (at_end()) fail("unterminated escape");
        const char e = s_[p_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xDC00 && cp <= 0xDFFF) fail("unpaired low surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (s_.size() - p_ < 2 || s_[p_] != '\\' || s_[p_ + 1] != 'u')
                fail("high surrogate not followed by a \\u low surrogate");
              p_ += 2;
              const uint32_t lo = hex4();
              if (lo < 0xDC00 || lo > 0xDFFF) fail("high surrogate not followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            append_utf8(out, cp);
            break;
          }
          default:
            --p_;
            fail(std::string("invalid escape '\\") + printable(e) + "'");
        }
        continue;
      }
      const size_t n = utf8_length();
      if (n == 0) fail("invalid UTF-8 in a string");
      out.append(s_.data() + p_, n);
      p_ += n;
    }
  }

  std::string_view s_;
  const std::string& what_;
  int max_depth_;
  size_t p_ = 0;
};

}  // namespace

const char* json_type_name(JsonValue::Type t) {
  switch (t) {
    case JsonValue::Type::Null: return "null";
    case JsonValue::Type::Bool: return "boolean";
    case JsonValue::Type::Number: return "number";
    case JsonValue::Type::String: return "string";
    case JsonValue::Type::Array: return "array";
    case JsonValue::Type::Object: return "object";
  }
  return "?";
}

const JsonValue* JsonValue::find(const std::string& key) const {
  if (type != Type::Object) return nullptr;
  for (const auto& kv : object)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

JsonValue parse_json(std::string_view text, const std::string& what, int max_depth) {
  return Parser(text, what, max_depth).document();
}

JsonValue read_json_file(const std::string& path, int max_depth) {
  return parse_json(read_file(path, "JSON file"), path, max_depth);
}

const JsonValue& json_member(const JsonValue& obj, const std::string& key, const std::string& what) {
  if (!obj.is_object()) throw Error(what + ": expected a JSON object holding \"" + key + "\"");
  const JsonValue* v = obj.find(key);
  if (!v) throw Error(what + ": missing key \"" + key + "\"");
  return *v;
}

int64_t json_int(const JsonValue& obj, const std::string& key, const std::string& what) {
  const JsonValue& v = json_member(obj, key, what);
  if (!v.is_number() || !v.is_int)
    throw Error(what + ": \"" + key + "\" must be an integer, got " +
                (v.is_number() ? std::string("a non-integer number") : json_type_name(v.type)));
  return v.integer;
}

double json_number(const JsonValue& obj, const std::string& key, const std::string& what) {
  const JsonValue& v = json_member(obj, key, what);
  if (!v.is_number()) throw Error(what + ": \"" + key + "\" must be a number, got " + json_type_name(v.type));
  return v.number;
}

bool json_bool(const JsonValue& obj, const std::string& key, const std::string& what) {
  const JsonValue& v = json_member(obj, key, what);
  if (!v.is_bool()) throw Error(what + ": \"" + key + "\" must be true or false, got " + json_type_name(v.type));
  return v.boolean;
}

std::string json_string(const JsonValue& obj, const std::string& key, const std::string& what) {
  const JsonValue& v = json_member(obj, key, what);
  if (!v.is_string()) throw Error(what + ": \"" + key + "\" must be a string, got " + json_type_name(v.type));
  return v.string;
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (u < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", u);
      out += b;
    } else out += c;
  }
  return out + "\"";
}

}  // namespace sqsim
