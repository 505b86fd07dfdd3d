#pragma once
// The options every command that computes or writes shares, with one meaning
// everywhere (no Boost here: the library functions take these structs).
//   RunOptions:    --threads (0 = all cores), --mode, --kernel
//   OutputOptions: --out (always a path), --force, --resume
#include <oneapi/tbb/global_control.h>

#include <memory>
#include <string>

#include "kernels/kernel_path.h"
#include "kernels/quantized_linear.h"  // EmulationMode

namespace sqsim::cli {

struct RunOptions {
  int threads = 0;  // worker threads; 0 = all cores
  kernels::EmulationMode mode = kernels::EmulationMode::kInteger;
  kernels::KernelPath kernel = kernels::KernelPath::kAuto;
};

// The TBB limit for RunOptions::threads while the result lives (null for 0).
std::unique_ptr<tbb::global_control> thread_limit(int threads);
// "all cores" or "N thread(s)", for progress lines.
std::string threads_text(int threads);

struct OutputOptions {
  std::string out;  // a directory, or a file for commands that write one file
  bool force = false;
  bool resume = false;
};

// For a directory: creates it when absent; when it exists and is not empty,
// refuses unless --force (then leaves it to be overwritten file by file) or
// --resume. For a file: refuses an existing one unless --force. Errors name --out.
void prepare_output_dir(const OutputOptions& o, bool resumable);
void prepare_output_file(const OutputOptions& o);

}  // namespace sqsim::cli
