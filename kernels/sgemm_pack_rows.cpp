#include "kernels/sgemm_pack_rows.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <vector>

#include "kernels/x86/sgemm_avx512.h"

namespace sqsim::kernels {

PackedB pack_b_from_rows(long n, long k, const BRowSource& rows) {
  PackedB p;
  p.n = n;
  p.k = k;
  if (!sgemm_avx512_available() || n == 0 || k == 0) return p;
  const long nr = sgemm_b_panel_cols(), panels = (n + nr - 1) / nr;
  p.data.resize(size_t(panels * nr * k));
  // One panel's rows (nr x k floats, 512 KiB at k = 4096) per task, widened
  // and then packed by the same function pack_b uses.
  tbb::parallel_for(tbb::blocked_range<long>(0, panels, 1), [&](const tbb::blocked_range<long>& r) {
    std::vector<float> buf(size_t(nr * k));
    for (long panel = r.begin(); panel < r.end(); ++panel) {
      const long row0 = panel * nr, pr = std::min(nr, n - row0);
      rows(row0, pr, buf.data());
      pack_b_panels_avx512(buf.data(), k, BLayout::kNK, pr, k, 0, 1, p.data.data() + panel * nr * k);
    }
  });
  return p;
}

}  // namespace sqsim::kernels
