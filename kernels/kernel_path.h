#pragma once
// Which implementation of the integer GEMM runs. `auto` picks the fastest path
// this CPU supports; SQSIM_KERNEL=<name> or --kernel <name> forces one.
#include <string>
#include <vector>

namespace sqsim::kernels {

enum class KernelPath { kAuto, kReference, kAvx2, kAvx512Vnni };

KernelPath parse_kernel_path(const std::string& name);  // throws naming the option
std::string kernel_path_name(KernelPath p);

// Paths compiled into this binary that this CPU can run (reference always).
std::vector<KernelPath> available_kernel_paths();

// The process-wide choice: set by the CLI's --kernel, else SQSIM_KERNEL, else auto.
void set_default_kernel_path(KernelPath p);
KernelPath default_kernel_path();

// kAuto -> the best available path; a forced path the CPU cannot run is an error.
KernelPath resolve_kernel_path(KernelPath requested);

}  // namespace sqsim::kernels
