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

// W4A16 kernel names kept for the tests and benchmarks that force one. Since
// W4A16 is defined as dequantized weights in the float GEMM's FMA order
// (docs/quantization.md, "int4 weights"), every SIMD path runs one kernel for
// all M (the weights dequantized into panels, then FMA tiles), so kRows,
// kPanel and kAuto give the same bits by the same code.
enum class W4A16Kernel { kAuto, kRows, kPanel };

// On kAmx, int8 products with fewer activation rows than this run vpdpbusd
// (AVX-512 VNNI) on the AMX packing instead of tiles: a tile multiplies 16
// rows whatever M is. The threshold is measured on an AMX Xeon (one thread:
// tiles 0.83-1.10x the rows kernel at M = 1-2, 0.89-1.43x at M = 4, 1.35-2.5x
// at M = 8): results/kernels/amx-xeon/README.md, docs/kernels.md (AMX).
constexpr long kAmxMinRows = 4;

}  // namespace sqsim::kernels
