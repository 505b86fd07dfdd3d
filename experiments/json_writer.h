#pragma once
// The one JSON writer of the reports (summary.json of sweep and paper-tables,
// `sqsim ppl --json`): objects and arrays streamed in order, strings quoted by
// sim/formats/json.h's json_quote (the parser's counterpart), numbers in the
// printf format the caller names.
//
//   JsonWriter w;
//   w.begin_object().key("command").value(cmd).key("items").value(42).end_object();
//   write_file_atomic(path, w.str());
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sqsim::cli {

class JsonWriter {
 public:
  // kPretty: one member per line, two-space indent, final newline.
  // kOneLine: {"a": 1, "b": [2, 3]} (JSON Lines), no newline.
  enum Style { kPretty, kOneLine };
  explicit JsonWriter(Style style = kPretty) : style_(style) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  // The member name of the next value inside an object.
  JsonWriter& key(const std::string& name);

  JsonWriter& value(const std::string& text);
  JsonWriter& value(const char* text) { return value(std::string(text)); }
  JsonWriter& value(bool b) { return raw(b ? "true" : "false"); }
  template <class T, class = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  JsonWriter& value(T n) {
    return raw(std::to_string(n));
  }
  // A number printed with `format` (one double conversion); inf and nan as null.
  JsonWriter& number(double v, const char* format = "%.17g");
  // A member whose value is already JSON text.
  JsonWriter& raw(const std::string& json);

  // Shortcuts for an object member.
  template <class V>
  JsonWriter& member(const std::string& name, const V& v) {
    return key(name).value(v);
  }
  // An object of string members, in the given order.
  JsonWriter& object(const std::vector<std::pair<std::string, std::string>>& members);

  std::string str() const { return style_ == kPretty ? out_ + "\n" : out_; }

 private:
  JsonWriter& open(char bracket);
  JsonWriter& close(char bracket);
  void before_value();
  void newline();

  Style style_;
  std::string out_;
  std::vector<int> counts_;  // values written in each open container
  bool after_key_ = false;
};

}  // namespace sqsim::cli
