#pragma once
// Report outputs: a directory that is never overwritten by accident, and files
// that appear whole or not at all (written to NAME.tmp, then renamed).
#include <string>

#include "base/io.h"  // write_file_atomic

namespace sqsim::cli {

// Creates `dir` when absent. When it exists and is not empty: refuses unless
// `force` (then leaves it to be overwritten file by file) or `resume`.
// `allow_resume` says whether the command has a --resume to suggest.
void prepare_output_dir(const std::string& dir, bool force, bool resume, const std::string& option,
                        bool allow_resume = false);

}  // namespace sqsim::cli
