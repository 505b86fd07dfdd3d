#pragma once
// Whole files in and out, with errors that name the file.
#include <string>

namespace sqsim {

// The file's bytes. Throws sqsim::Error "cannot read <what> <path>" when it
// cannot be opened or read.
std::string read_file(const std::string& path, const std::string& what = "file");

// Writes `bytes` to path + ".tmp", flushes, then renames it over `path`, so a
// reader never sees half a file and an interrupted write leaves the old one.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace sqsim
