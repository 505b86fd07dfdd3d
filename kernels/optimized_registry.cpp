#include "kernels/optimized_registry.h"

namespace sqsim::kernels {

// kernels/*_avx512vnni.cpp and *_avx2.cpp are always compiled in (the build
// gives them their own -m flags); kernel_path.cpp still checks the CPU before
// choosing either.
bool optimized_path_compiled(KernelPath p) { return p == KernelPath::kAvx512Vnni || p == KernelPath::kAvx2; }

}  // namespace sqsim::kernels
