#pragma once
// Whole files in and out, with errors that name the file.
#include <string>

namespace sqsim {

// The file's bytes. Throws sqsim::Error "cannot read <what> <path>" when it
// cannot be opened or read (with base/paths.h's missing_file_hint when the
// path lies under SQSIM_DATA or SQSIM_MODELS).
std::string read_file(const std::string& path, const std::string& what = "file");

// A UTF-8 text file with CRLF normalized to LF; throws as read_file ("cannot
// read text file <path>").
std::string read_text_file(const std::string& path);

// Writes `bytes` to path + ".tmp", flushes, then renames it over `path`, so a
// reader never sees half a file and an interrupted write leaves the old one.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace sqsim
