#include "experiments/format.h"

#include <cmath>
#include <cstdio>

namespace sqsim::cli {

std::string csv_quote(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string tex_escape(const std::string& text) {
  std::string o;
  for (char c : text) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$' || c == '{' || c == '}') o += '\\';
    o += c;
  }
  return o;
}

namespace {

std::string printf_number(double v, const char* format, int precision) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  std::string out(size_t(std::snprintf(nullptr, 0, format, precision, v)), '\0');
  std::snprintf(out.data(), out.size() + 1, format, precision, v);
  return out;
}

}  // namespace

std::string significant(double v, int digits) { return printf_number(v, "%.*g", digits); }

std::string fixed(double v, int decimals) { return printf_number(v, "%.*f", decimals); }

}  // namespace sqsim::cli
