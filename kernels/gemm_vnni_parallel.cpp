#include "kernels/gemm_vnni_parallel.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace sqsim::kernels::vnni {

void epilogue_parallel(const ScaleView& a, const ScaleView& b, long m_rows, long n_rows, long k, long group_size,
                       const int32_t* acc, const float* bias, float* y) {
  const long groups = k / group_size;
  tbb::parallel_for(tbb::blocked_range<long>(0, m_rows, 8), [&](const tbb::blocked_range<long>& r) {
    ScaleView slice = a;
    slice.data = a.data + r.begin() * a.layout.row_stride;  // row 0 of the slice is row r.begin()
    epilogue_reference(slice, b, r.end() - r.begin(), n_rows, k, group_size,
                       acc + r.begin() * n_rows * groups, bias, y + r.begin() * n_rows);
  });
}

}  // namespace sqsim::kernels::vnni
