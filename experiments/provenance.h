#pragma once
// What every report records about how it was made: the command, the project's
// git commit, and the versions of the libraries that computed it.
#include <string>

namespace sqsim::cli {

// `git rev-parse HEAD` of the source tree this binary was built from (with
// "-dirty" when it has uncommitted changes), or "unknown".
std::string git_commit();
// JSON object body (no braces) with sqsim, eigen, hdf5, boost, tbb versions.
std::string library_versions_json();
std::string json_escape(const std::string& s);
// The command line as typed (argv joined with spaces, quoted where needed).
std::string command_line(int argc, char** argv);

}  // namespace sqsim::cli
