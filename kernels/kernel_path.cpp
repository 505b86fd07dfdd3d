#include "kernels/kernel_path.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "kernels/cpu_features.h"
#include "base/error.h"

namespace sqsim::kernels {

KernelPath parse_kernel_path(const std::string& name) {
  if (name == "auto") return KernelPath::kAuto;
  if (name == "reference") return KernelPath::kReference;
  if (name == "avx2") return KernelPath::kAvx2;
  if (name == "avx512-vnni" || name == "avx512vnni" || name == "vnni") return KernelPath::kAvx512Vnni;
  if (name == "amx") return KernelPath::kAmx;
  if (name == "amx-emulated") return KernelPath::kAmxEmulated;  // for tests; not advertised
  throw Error("kernel '" + name + "': expected auto, reference, avx2, avx512-vnni or amx");
}

std::string kernel_path_name(KernelPath p) {
  switch (p) {
    case KernelPath::kAuto: return "auto";
    case KernelPath::kReference: return "reference";
    case KernelPath::kAvx2: return "avx2";
    case KernelPath::kAvx512Vnni: return "avx512-vnni";
    case KernelPath::kAmx: return "amx";
    case KernelPath::kAmxEmulated: return "amx-emulated";
  }
  return "?";
}

std::vector<KernelPath> available_kernel_paths() {
  std::vector<KernelPath> out{KernelPath::kReference};
  // Every optimized path is always compiled in (kernels/x86/*_avx2.cpp,
  // *_avx512*.cpp get their own -m flags from cmake/isa_flags.cmake), so only
  // the CPU decides.
  const CpuFeatures& f = cpu_features();
  if (f.avx2 && f.fma) out.push_back(KernelPath::kAvx2);
  const bool vnni = f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
  if (vnni) out.push_back(KernelPath::kAvx512Vnni);
  // AMX runs the float x int4 products on the AVX-512 kernels (every CPU with
  // AMX has AVX-512 VNNI); amx_state() asks Linux for the tile permission once.
  if (vnni && amx_state().granted) out.push_back(KernelPath::kAmx);
  return out;
}

std::vector<KernelPath> tested_kernel_paths() {
  std::vector<KernelPath> out = available_kernel_paths();
  out.push_back(KernelPath::kAmxEmulated);
  return out;
}

namespace {

std::atomic<int>& chosen() {
  static std::atomic<int> value{[] {
    const char* env = std::getenv("SQSIM_KERNEL");
    return static_cast<int>(env && *env ? parse_kernel_path(env) : KernelPath::kAuto);
  }()};
  return value;
}

}  // namespace

void set_default_kernel_path(KernelPath p) { chosen().store(static_cast<int>(p)); }

KernelPath default_kernel_path() { return static_cast<KernelPath>(chosen().load()); }

KernelPath resolve_kernel_path(KernelPath requested) {
  if (requested == KernelPath::kAuto) requested = default_kernel_path();
  const auto paths = available_kernel_paths();
  if (requested == KernelPath::kAuto) return paths.back();
  if (requested == KernelPath::kAmxEmulated) return requested;  // plain C++: runs everywhere
  if (requested == KernelPath::kAmx && std::find(paths.begin(), paths.end(), requested) == paths.end()) {
    const AmxState& s = amx_state();
    throw Error("kernel 'amx': not usable here: " +
                (s.granted ? std::string("the CPU lacks AVX-512 VNNI") : s.detail));
  }
  if (std::find(paths.begin(), paths.end(), requested) == paths.end()) {
    std::string names;
    for (KernelPath p : paths) names += (names.empty() ? "" : ", ") + kernel_path_name(p);
    throw Error("kernel '" + kernel_path_name(requested) +
                "': not available on this CPU or not compiled in (available: " + names + ")");
  }
  return requested;
}

}  // namespace sqsim::kernels
