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

// The two W4A16 (float x int4) kernels of a SIMD path, both bit-identical to
// linear_f32s4_reference: kRows streams the int4 bytes once per block of 4
// activation rows (the decode GEMV), kPanel decodes 16 (AVX-512) or 8 (AVX2)
// output channels at a time once and vectorizes across them (many rows). kAuto
// picks kPanel from kW4A16PanelMinRows rows on. Tests and benchmarks force one.
// The threshold is measured: results/kernels.
enum class W4A16Kernel { kAuto, kRows, kPanel };
constexpr long kW4A16PanelMinRows = 5;

}  // namespace sqsim::kernels
