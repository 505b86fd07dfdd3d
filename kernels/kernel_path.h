#pragma once
// Which implementation of the integer GEMM runs. `auto` picks the fastest path
// this CPU supports; SQSIM_KERNEL=<name> or --kernel <name> forces one.
#include <string>
#include <vector>

namespace sqsim::kernels {

// kAmx: the int8 products on AMX tiles (tdpbssd), the float x int4 products
// on the AVX-512 kernels. kAmxEmulated: the same int8 driver with every tile
// instruction emulated in plain C++ (kernels/x86/amx_tile_emulator.h), so it
// runs on every CPU; it exists for tests (`--kernel amx-emulated`, not listed
// in --help), is never picked by auto, and its float x int4 products are the
// reference's.
enum class KernelPath { kAuto, kReference, kAvx2, kAvx512Vnni, kAmx, kAmxEmulated };

KernelPath parse_kernel_path(const std::string& name);  // throws naming the option
std::string kernel_path_name(KernelPath p);

// Paths compiled into this binary that this CPU (and, for AMX, the OS) can run,
// slowest first (reference always). auto picks the last one:
// AMX > AVX-512 VNNI > AVX2 > reference.
std::vector<KernelPath> available_kernel_paths();
// available_kernel_paths() plus kAmxEmulated: the paths the bit-exactness tests run.
std::vector<KernelPath> tested_kernel_paths();

// The process-wide choice: set by the CLI's --kernel, else SQSIM_KERNEL, else auto.
void set_default_kernel_path(KernelPath p);
KernelPath default_kernel_path();

// kAuto -> the best available path; a forced path the CPU cannot run is an error
// naming why (for AMX: the CPU, the OS's XCR0 or the refused tile permission).
KernelPath resolve_kernel_path(KernelPath requested);

// The two W4A16 (float x int4) kernels of a SIMD path, both bit-identical to
// linear_f32s4_reference: kRows streams the int4 bytes once per block of 4
// activation rows (the decode GEMV), kPanel decodes 16 (AVX-512) or 8 (AVX2)
// output channels at a time once and vectorizes across them (many rows). kAuto
// picks kPanel from kW4A16PanelMinRows rows on. Tests and benchmarks force one.
// The threshold is measured: results/kernels.
enum class W4A16Kernel { kAuto, kRows, kPanel };

// On kAmx, int8 products with fewer activation rows than this run vpdpbusd
// (AVX-512 VNNI) on the AMX packing instead of tiles: a tile multiplies 16
// rows whatever M is. The threshold is measured on an AMX Xeon (one thread:
// tiles 0.83-1.10x the rows kernel at M = 1-2, 0.89-1.43x at M = 4, 1.35-2.5x
// at M = 8): results/kernels/amx-xeon/README.md, docs/kernels.md (AMX).
constexpr long kAmxMinRows = 4;
constexpr long kW4A16PanelMinRows = 5;

}  // namespace sqsim::kernels
