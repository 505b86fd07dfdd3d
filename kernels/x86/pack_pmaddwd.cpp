#include "kernels/x86/pack_pmaddwd.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>

namespace sqsim::kernels::avx2 {

PackedB pack_b(const Int8Matrix& b, long group_size) {
  PackedB p;
  p.n = b.rows;
  p.k = b.cols;
  p.gs = group_size;
  p.groups = b.cols / group_size;
  p.gsp = (group_size + 1) / 2 * 2;
  p.nblocks = (b.rows + 7) / 8;
  p.data.assign(static_cast<size_t>(p.nblocks) * p.groups * p.gsp * 8, 0);
  // Each task packs whole blocks of 8 channels: disjoint outputs.
  tbb::parallel_for(tbb::blocked_range<long>(0, p.nblocks), [&](const tbb::blocked_range<long>& r) {
    for (long n = r.begin() * 8; n < std::min(p.n, r.end() * 8); ++n) {
      const long nb = n / 8, j = n % 8;
      const int8_t* row = b.codes.data() + n * p.k;
      for (long g = 0; g < p.groups; ++g) {
        int8_t* dst = p.data.data() + (nb * p.groups + g) * p.gsp * 8 + j * 2;
        for (long i = 0; i < group_size; ++i) dst[(i / 2) * 16 + i % 2] = row[g * group_size + i];
      }
    }
  });
  return p;
}

std::vector<int16_t> pack_a(const Int8Matrix& a, long group_size) {
  const long groups = a.cols / group_size, gsp = (group_size + 1) / 2 * 2, kp = groups * gsp;
  std::vector<int16_t> out(static_cast<size_t>(a.rows) * kp, 0);
  tbb::parallel_for(tbb::blocked_range<long>(0, a.rows, 16), [&](const tbb::blocked_range<long>& r) {
    for (long m = r.begin(); m < r.end(); ++m) {
      const int8_t* row = a.codes.data() + m * a.cols;
      int16_t* dst = out.data() + m * kp;
      for (long g = 0; g < groups; ++g)
        for (long i = 0; i < group_size; ++i) dst[g * gsp + i] = row[g * group_size + i];
    }
  });
  return out;
}

}  // namespace sqsim::kernels::avx2
