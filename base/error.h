#pragma once
// One exception type for every refusal in the library. Messages name the
// parameter, file or tensor at fault and what was expected, on one line, so the
// CLI can print them as they are.
#include <stdexcept>
#include <string>

namespace sqsim {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace sqsim
