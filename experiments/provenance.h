#pragma once
// What every report records about how it was made: the command, the project's
// git commit, the CPU, and the versions of the libraries that computed it.
#include <string>
#include <utility>
#include <vector>

namespace sqsim::cli {

// `git rev-parse HEAD` of the source tree this binary was built from (with
// "-dirty" when it has uncommitted changes), or "unknown".
std::string git_commit();
// The CPU the numbers were measured on: /proc/cpuinfo's first "model name"
// (what lscpu prints), with the number of logical CPUs, or "unknown".
std::string cpu_model();
// (name, version) of sqsim, eigen, hdf5, boost and tbb.
std::vector<std::pair<std::string, std::string>> library_versions();
// The command line as typed (argv joined with spaces, quoted where needed).
std::string command_line(int argc, char** argv);

}  // namespace sqsim::cli
