#include "experiments/json_writer.h"

#include <cmath>
#include <cstdio>

#include "sim/formats/json.h"

namespace sqsim::cli {

void JsonWriter::newline() {
  out_ += "\n";
  out_.append(2 * counts_.size(), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (counts_.empty()) return;
  if (counts_.back()++ > 0) out_ += style_ == kPretty ? "," : ", ";
  if (style_ == kPretty) newline();
}

JsonWriter& JsonWriter::key(const std::string& name) {
  before_value();
  out_ += json_quote(name) + ": ";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::open(char bracket) {
  before_value();
  out_ += bracket;
  counts_.push_back(0);
  return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
  const bool empty = counts_.back() == 0;
  counts_.pop_back();
  if (!empty && style_ == kPretty) newline();
  out_ += bracket;
  return *this;
}

JsonWriter& JsonWriter::value(const std::string& text) { return raw(json_quote(text)); }

JsonWriter& JsonWriter::number(double v, const char* format) {
  if (!std::isfinite(v)) return raw("null");
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return raw(b);
}

JsonWriter& JsonWriter::raw(const std::string& json) {
  before_value();
  out_ += json;
  return *this;
}

JsonWriter& JsonWriter::object(const std::vector<std::pair<std::string, std::string>>& members) {
  begin_object();
  for (const auto& [k, v] : members) key(k).value(v);
  return end_object();
}

}  // namespace sqsim::cli
