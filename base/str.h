#pragma once
// Building one-line messages: str("layer ", name, ": ", rows, " rows") streams
// its arguments into one string (integers as std::to_string writes them).
// Floating-point values should be formatted on purpose (a fixed number of
// digits), not through this.
#include <sstream>
#include <string>

namespace sqsim {

template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace sqsim
