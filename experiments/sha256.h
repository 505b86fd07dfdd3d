#pragma once
// SHA-256 (FIPS 180-4) of a file, for the provenance of every report.
#include <string>

namespace sqsim::cli {

// Lowercase hex digest; throws sqsim::Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);
std::string sha256_hex(const std::string& bytes);

}  // namespace sqsim::cli
