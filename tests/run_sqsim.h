#pragma once
// Runs the sqsim binary from a test and captures stdout + stderr and the exit status.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

struct CliRun {
  int status;       // exit status, -1 when killed by a signal
  std::string out;  // stdout and stderr together
};

// Runs a shell command line (stderr joined to stdout).
inline CliRun run_command(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline CliRun run(const std::string& args) { return run_command(std::string(SQSIM_BINARY) + " " + args); }

// The whole content of a file ("" when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
