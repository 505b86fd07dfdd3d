#pragma once
// Scale tables for the fused int8 epilogue (kernels/gemm_epilogue_view.h),
// plain C++. They hold, per accumulator group, the very scale values the
// reference epilogue reads (ScaleView::at), so the fused kernels multiply by
// the same floats in the same order.
#include <vector>

#include "kernels/gemm_epilogue_view.h"
#include "kernels/gemm_reference.h"

namespace sqsim::kernels {

struct EpilogueTables {
  std::vector<float> a_scale;  // [m_rows][groups]
  std::vector<float> b_scale;  // [groups][n_pad]
  EpilogueView view(const float* bias, long n_pad) const { return {a_scale.data(), b_scale.data(), bias, n_pad}; }
};

// Accumulator groups of `group_size` columns over K = k; n_pad >= n_rows.
EpilogueTables epilogue_tables(const ScaleView& a, const ScaleView& b, long m_rows, long n_rows, long k,
                               long group_size, long n_pad);

}  // namespace sqsim::kernels
