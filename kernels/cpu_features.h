#pragma once
// Which instruction sets this CPU runs, asked once at run time. Optimized
// kernels are compiled with their own -m flags and only called when the CPU
// has those features, so the binary stays portable.
#include <string>

namespace sqsim::kernels {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  // AMX (CPUID leaf 7, EDX bits 22, 24, 25): what the CPU implements. Using the
  // tiles also needs the OS (AmxState below).
  bool amx_bf16 = false;
  bool amx_tile = false;
  bool amx_int8 = false;
};

const CpuFeatures& cpu_features();
std::string describe(const CpuFeatures& f);

// Whether this process may execute AMX tile instructions. Three conditions:
// the CPU has AMX-TILE and AMX-INT8; the OS enables the tile state (XCR0 bits
// 17 XTILECFG and 18 XTILEDATA, read with xgetbv); and, on Linux, the process
// was granted the tile data permission (arch_prctl(ARCH_REQ_XCOMP_PERM,
// XFEATURE_XTILEDATA = 18); without it the first tile instruction kills the
// process with SIGILL). The request is made once, on the first call; later calls
// return the same answer. `detail` says in words which condition failed.
struct AmxState {
  bool cpu = false;      // amx_tile && amx_int8
  bool os = false;       // XCR0 bits 17 and 18 set
  bool granted = false;  // permission granted (or not needed): tiles usable
  std::string detail;
};
const AmxState& amx_state();

}  // namespace sqsim::kernels
