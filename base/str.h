#pragma once
// Building one-line messages: str("layer ", name, ": ", rows, " rows") streams
// its arguments into one string (integers as std::to_string writes them).
// Floating-point values should be formatted on purpose (a fixed number of
// digits), not through this.
#include <sstream>
#include <string>
#include <vector>

namespace sqsim {

template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// "a, b,c" -> {"a", "b", "c"}: items split at commas, blanks around each
// removed. An empty item ("a,,b", a trailing comma, "") is refused with
// sqsim::Error "<option> '<text>': empty item in the list".
std::vector<std::string> split_list(const std::string& text, const std::string& option);

}  // namespace sqsim
