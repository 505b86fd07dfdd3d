#include "experiments/provenance.h"

#include <Eigen/Core>
#include <H5public.h>
#include <boost/version.hpp>
#include <oneapi/tbb/version.h>

#include <array>
#include <cstdio>

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

std::string library_versions_json() {
  unsigned a = 0, b = 0, c = 0;
  H5get_libversion(&a, &b, &c);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "\"sqsim\": \"%s\", \"eigen\": \"%d.%d.%d\", \"hdf5\": \"%u.%u.%u\", \"boost\": \"%d.%d.%d\", "
                "\"tbb\": \"%d.%d\"",
                SQSIM_VERSION, EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, a, b, c,
                BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100, TBB_VERSION_MAJOR,
                TBB_VERSION_MINOR);
  return buf;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"') o += "\\\"";
    else if (c == '\\') o += "\\\\";
    else if (c == '\n') o += "\\n";
    else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += ch;
  }
  return o;
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
