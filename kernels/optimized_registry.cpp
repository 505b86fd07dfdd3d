#include "kernels/optimized_registry.h"

namespace sqsim::kernels {

// kernels/gemm_avx512vnni.cpp is always compiled in (the build gives it its own
// -m flags); kernel_path.cpp still checks the CPU before choosing it.
bool optimized_path_compiled(KernelPath p) { return p == KernelPath::kAvx512Vnni; }

}  // namespace sqsim::kernels
