#pragma once
// A small strict JSON parser (RFC 8259) for the few JSON files sqsim reads:
// safetensors headers, Hugging Face config.json / tokenizer.json and shard
// indexes. Strict: no comments, no trailing commas, no duplicate keys, no
// unpaired surrogates, valid UTF-8 only. Nesting depth is bounded, so hostile
// input cannot exhaust the stack; every refusal is a sqsim::Error naming the
// file (`what`) and the byte offset.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sqsim {

class JsonValue {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Type type = Type::Null;
  bool boolean = false;
  double number = 0.0;
  // Set when the number is written as an integer (no fraction, no exponent)
  // that fits int64; then `integer` holds it exactly.
  bool is_int = false;
  int64_t integer = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;  // in file order, keys unique

  bool is_null() const { return type == Type::Null; }
  bool is_object() const { return type == Type::Object; }
  bool is_array() const { return type == Type::Array; }
  bool is_string() const { return type == Type::String; }
  bool is_number() const { return type == Type::Number; }
  bool is_bool() const { return type == Type::Bool; }
  // Member of an object, or nullptr when absent (or when this is not an object).
  const JsonValue* find(const std::string& key) const;
};

const char* json_type_name(JsonValue::Type t);

// Deepest nesting of arrays/objects accepted.
constexpr int kJsonMaxDepth = 128;

// Parses one JSON document (surrounding whitespace allowed, nothing else).
JsonValue parse_json(std::string_view text, const std::string& what, int max_depth = kJsonMaxDepth);
// Reads and parses a file; throws naming the path when it cannot be read.
JsonValue read_json_file(const std::string& path, int max_depth = kJsonMaxDepth);

// Typed member access for config-like objects; errors name `what` and the key.
const JsonValue& json_member(const JsonValue& obj, const std::string& key, const std::string& what);
int64_t json_int(const JsonValue& obj, const std::string& key, const std::string& what);
double json_number(const JsonValue& obj, const std::string& key, const std::string& what);
bool json_bool(const JsonValue& obj, const std::string& key, const std::string& what);
std::string json_string(const JsonValue& obj, const std::string& key, const std::string& what);

// Writes `s` as a JSON string literal (quotes included; control characters,
// quote and backslash escaped; other bytes as they are).
std::string json_quote(const std::string& s);

}  // namespace sqsim
