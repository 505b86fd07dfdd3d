#pragma once
// The reference epilogue run in parallel over row slices (plain C++).
#include <cstdint>

#include "kernels/gemm_reference.h"

namespace sqsim::kernels::vnni {

// Same arguments and bits as epilogue_reference: each slice of rows calls
// epilogue_reference itself, so the operation order is the documented one.
void epilogue_parallel(const ScaleView& a, const ScaleView& b, long m_rows, long n_rows, long k, long group_size,
                       const int32_t* acc, const float* bias, float* y);

}  // namespace sqsim::kernels::vnni
