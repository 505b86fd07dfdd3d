#pragma once
// Which optimized GEMM paths this build contains. The reference path needs no
// entry. An optimized path registers itself here when its source is compiled
// in (kernels/*_avx512vnni.cpp, *_avx2.cpp).
#include "kernels/kernel_path.h"

namespace sqsim::kernels {

bool optimized_path_compiled(KernelPath p);

}  // namespace sqsim::kernels
