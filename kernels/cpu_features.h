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
};

const CpuFeatures& cpu_features();
std::string describe(const CpuFeatures& f);

}  // namespace sqsim::kernels
