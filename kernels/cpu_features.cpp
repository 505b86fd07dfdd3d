#include "kernels/cpu_features.h"

#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace sqsim::kernels {

namespace {

#if defined(__x86_64__)
// CPUID leaf 7 sub-leaf 0, EDX: the AMX feature bits (Intel SDM vol. 2, CPUID).
constexpr unsigned kEdxAmxBf16 = 1u << 22, kEdxAmxTile = 1u << 24, kEdxAmxInt8 = 1u << 25;
// XCR0 state components 17 (XTILECFG) and 18 (XTILEDATA).
constexpr uint64_t kXcr0Tiles = (1ull << 17) | (1ull << 18);
// The Linux arch_prctl codes (arch/x86/include/uapi/asm/prctl.h) and the XSAVE
// feature number of the tile data.
constexpr long kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;

unsigned leaf7_edx() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return 0;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  return edx;
}

// XCR0, or 0 when the OS has not enabled XSAVE (CPUID.1:ECX.OSXSAVE, bit 27):
// xgetbv would fault then.
uint64_t xcr0() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0;
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
#if __GNUC__ >= 12
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
#endif
#if defined(__x86_64__)
    const unsigned edx = leaf7_edx();
    f.amx_bf16 = edx & kEdxAmxBf16;
    f.amx_tile = edx & kEdxAmxTile;
    f.amx_int8 = edx & kEdxAmxInt8;
#endif
    return f;
  }();
  return features;
}

const AmxState& amx_state() {
  static const AmxState state = [] {
    AmxState s;
    const CpuFeatures& f = cpu_features();
    s.cpu = f.amx_tile && f.amx_int8;
    if (!s.cpu) {
      s.detail = "the CPU has no AMX-TILE/AMX-INT8 (CPUID leaf 7 EDX bits 24, 25)";
      return s;
    }
#if defined(__x86_64__)
    s.os = (xcr0() & kXcr0Tiles) == kXcr0Tiles;
#endif
    if (!s.os) {
      s.detail = "the OS does not enable the tile state (XCR0 bits 17, 18)";
      return s;
    }
#if defined(__linux__) && defined(__x86_64__)
    // Process-wide and idempotent: every thread may then use the tiles.
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
      s.detail = "Linux refused the tile data permission (arch_prctl ARCH_REQ_XCOMP_PERM)";
      return s;
    }
    unsigned long perm = 0;
    if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &perm) != 0 || !(perm & (1ul << kXfeatureXtiledata))) {
      s.detail = "Linux did not grant the tile data permission (arch_prctl ARCH_GET_XCOMP_PERM)";
      return s;
    }
    s.granted = true;
    s.detail = "tile data permission granted";
#else
    // Other systems with XCR0 bits set enable the tiles for every process.
    s.granted = true;
    s.detail = "tile state enabled by the OS";
#endif
    return s;
  }();
  return state;
}

std::string describe(const CpuFeatures& f) {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (on) s += (s.empty() ? "" : " ") + std::string(name);
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512vnni, "avx512vnni");
  add(f.avx512bf16, "avx512bf16");
  add(f.amx_bf16, "amx-bf16");
  add(f.amx_tile, "amx-tile");
  add(f.amx_int8, "amx-int8");
  return s.empty() ? "none" : s;
}

}  // namespace sqsim::kernels
