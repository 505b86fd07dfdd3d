#include "experiments/provenance.h"

#include <Eigen/Core>
#include <H5public.h>
#include <boost/version.hpp>
#include <oneapi/tbb/version.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <thread>

namespace sqsim::cli {

namespace {

std::string run_command(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    std::array<char, 256> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

std::string git_commit() {
  const std::string dir = SQSIM_SOURCE_DIR;
  const std::string head = run_command("git -C '" + dir + "' rev-parse HEAD 2>/dev/null");
  if (head.size() != 40) return "unknown";
  const std::string dirty = run_command("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null");
  return dirty.empty() ? head : head + "-dirty";
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  const std::string key = "model name";
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    const std::string name = start == std::string::npos ? "" : line.substr(start);
    if (name.empty()) break;
    return name + ", " + std::to_string(std::thread::hardware_concurrency()) + " logical CPUs";
  }
  return "unknown";
}

std::vector<std::pair<std::string, std::string>> library_versions() {
  unsigned a = 0, b = 0, c = 0;
  H5get_libversion(&a, &b, &c);
  const auto dotted = [](auto x, auto y, auto z) {
    return std::to_string(x) + "." + std::to_string(y) + "." + std::to_string(z);
  };
  return {{"sqsim", SQSIM_VERSION},
          {"eigen", dotted(EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION)},
          {"hdf5", dotted(a, b, c)},
          {"boost", dotted(BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100)},
          {"tbb", std::to_string(TBB_VERSION_MAJOR) + "." + std::to_string(TBB_VERSION_MINOR)}};
}

std::string command_line(int argc, char** argv) {
  std::string out = "sqsim";
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    out += " ";
    if (a.find_first_of(" \t'\"*?$") != std::string::npos) out += "'" + a + "'";
    else out += a;
  }
  return out;
}

}  // namespace sqsim::cli
