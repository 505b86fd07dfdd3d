#pragma once
// The float epilogue of the fused int8 kernels: the view they read and the
// tables that back it. Plain types only, so the AVX-512 / AVX2 kernel files
// can include it. For output (m, c) and accumulator group g, exactly the
// reference's operations (kernels/gemm_reference.h, epilogue_reference):
//   t_g = (float(acc_g) * a_scale[m * groups + g]) * b_scale[g * n_pad + c]
//   y   = t_0, then y + t_g for g = 1, 2, ... (left to right)
//   y   = y + bias[c]   (only when bias is not null)
#include <cstddef>
#include <vector>

namespace sqsim::kernels {

struct EpilogueView {
  const float* a_scale = nullptr;  // [m_rows][groups]: activation scale of row m, accumulator group g
  const float* b_scale = nullptr;  // [groups][n_pad]: weight scale of channel c, group g; 0 in the padding
  const float* bias = nullptr;     // [n] or null
  long n_pad = 0;                  // channels rounded up to the kernel's block (16 or 8)
};

// The scale tables behind an EpilogueView, built once per call by the plain
// C++ drivers (kernels/x86/avx512_path.cpp, avx2_path.cpp). They hold, per
// accumulator group, the very scale values the reference epilogue reads
// (ScaleView::at), so the fused kernels multiply by the same floats in the
// same order.
struct EpilogueTables {
  std::vector<float> a_scale;  // [m_rows][groups]
  std::vector<float> b_scale;  // [groups][n_pad]
  EpilogueView view(const float* bias, long n_pad) const { return {a_scale.data(), b_scale.data(), bias, n_pad}; }
};

// Accumulator groups of `group_size` columns over K = k; n_pad >= n_rows.
// Scales is kernels::ScaleView (kernels/gemm_reference.h); a template so that
// this header stays free of the project's other headers.
template <class Scales>
EpilogueTables epilogue_tables(const Scales& a, const Scales& b, long m_rows, long n_rows, long k, long group_size,
                               long n_pad) {
  const long groups = k / group_size;
  EpilogueTables t;
  t.a_scale.resize(static_cast<std::size_t>(m_rows) * groups);
  t.b_scale.assign(static_cast<std::size_t>(groups) * n_pad, 0.0f);
  // The reference reads a.at(m, g * group_size) and b.at(n, g * group_size).
  for (long m = 0; m < m_rows; ++m)
    for (long g = 0; g < groups; ++g) t.a_scale[m * groups + g] = a.at(m, g * group_size);
  for (long g = 0; g < groups; ++g)
    for (long n = 0; n < n_rows; ++n) t.b_scale[g * n_pad + n] = b.at(n, g * group_size);
  return t;
}

}  // namespace sqsim::kernels
