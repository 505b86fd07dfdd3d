#include "kernels/gemm_epilogue.h"

namespace sqsim::kernels {

EpilogueTables epilogue_tables(const ScaleView& a, const ScaleView& b, long m_rows, long n_rows, long k,
                               long group_size, long n_pad) {
  const long groups = k / group_size;
  EpilogueTables t;
  t.a_scale.resize(static_cast<size_t>(m_rows) * groups);
  t.b_scale.assign(static_cast<size_t>(groups) * n_pad, 0.0f);
  // The reference reads a.at(m, g * group_size) and b.at(n, g * group_size).
  for (long m = 0; m < m_rows; ++m)
    for (long g = 0; g < groups; ++g) t.a_scale[m * groups + g] = a.at(m, g * group_size);
  for (long g = 0; g < groups; ++g)
    for (long n = 0; n < n_rows; ++n) t.b_scale[g * n_pad + n] = b.at(n, g * group_size);
  return t;
}

}  // namespace sqsim::kernels
