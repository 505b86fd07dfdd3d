#include "kernels/x86/pack_tdpbssd.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>

namespace sqsim::kernels::amx {

namespace {

long round_up(long v, long to) { return (v + to - 1) / to * to; }

}  // namespace

PackedB pack_b(const Int8Matrix& b, long group_size) {
  PackedB p;
  p.n = b.rows;
  p.k = b.cols;
  p.gs = group_size;
  p.groups = b.cols / group_size;
  p.gsp = round_up(group_size, PackedB::kStepK);
  p.nblocks = (b.rows + 15) / 16;
  p.data.assign(static_cast<size_t>(p.nblocks) * 16 * p.groups * p.gsp, 0);
  p.neg_comp.assign(static_cast<size_t>(p.nblocks) * p.groups * 16, 0);
  const long steps = p.gsp / PackedB::kStepK;
  // Each task packs whole blocks of 16 channels: disjoint outputs.
  tbb::parallel_for(tbb::blocked_range<long>(0, p.nblocks), [&](const tbb::blocked_range<long>& r) {
    const long k = p.k, groups = p.groups, gs = group_size, n_rows = p.n;
    int8_t* data = p.data.data();
    for (long n = r.begin() * 16; n < std::min(n_rows, r.end() * 16); ++n) {
      const long nb = n / 16, j = n % 16;
      const int8_t* row = b.codes.data() + n * k;
      for (long g = 0; g < groups; ++g) {
        for (long i = 0; i < gs; ++i) {
          // k index i of the group: step i / 64 (PackedBView::tile), tile row
          // (i % 64) / 4, byte 4j + i % 4.
          int8_t* tile = data + ((nb * groups + g) * steps + i / 64) * 1024;
          tile[((i % 64) / 4) * 64 + 4 * j + i % 4] = row[g * gs + i];
        }
        // |sum| <= 128 * gs, and 128 * |sum| fits int32 for the group sizes
        // validate_s8s8 accepts (it bounds 128 * 128 * gs).
        int32_t sum = 0;
        for (long i = 0; i < gs; ++i) sum += row[g * gs + i];
        p.neg_comp[(nb * groups + g) * 16 + j] = -128 * sum;
      }
    }
  });
  return p;
}

ActivationView activation_tiles(const Int8Matrix& a, long group_size, CacheLineVector<int8_t>& storage) {
  ActivationView v;
  const long groups = a.cols / group_size, gsp = round_up(group_size, PackedB::kStepK);
  v.m = a.rows;
  v.gsp = gsp;
  v.row_blocks = (a.rows + 15) / 16;
  if (gsp == group_size && a.rows % 16 == 0) {  // in place
    v.data = a.codes.data();
    v.stride = a.cols;
    return v;
  }
  v.stride = groups * gsp;
  storage.assign(static_cast<size_t>(v.row_blocks) * 16 * v.stride, 0);
  int8_t* dst = storage.data();
  tbb::parallel_for(tbb::blocked_range<long>(0, a.rows, 16), [&](const tbb::blocked_range<long>& r) {
    for (long m = r.begin(); m < r.end(); ++m)
      for (long g = 0; g < groups; ++g)
        std::memcpy(dst + m * v.stride + g * gsp, a.codes.data() + m * a.cols + g * group_size,
                    static_cast<size_t>(group_size));
  });
  v.data = dst;
  return v;
}

}  // namespace sqsim::kernels::amx
