#pragma once
// Helpers shared by the libFuzzer harnesses (docs/robustness.md).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sqsim::fuzz {

// Readers that take a path get the input through a file in /dev/shm (memory,
// not disk); one name per process and slot, so parallel jobs never collide.
inline std::string scratch_path(const char* slot) {
  return "/dev/shm/sqsim-fuzz-" + std::to_string(::getpid()) + "-" + slot;
}

inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();  // the harness itself is broken, not the reader
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

}  // namespace sqsim::fuzz
