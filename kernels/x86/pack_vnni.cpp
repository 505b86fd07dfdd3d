#include "kernels/x86/pack_vnni.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>

namespace sqsim::kernels::vnni {

PackedB pack_b(const Int8Matrix& b, long group_size) {
  PackedB p;
  p.n = b.rows;
  p.k = b.cols;
  p.gs = group_size;
  p.groups = b.cols / group_size;
  p.gsp = (group_size + 3) / 4 * 4;
  p.nblocks = (b.rows + 15) / 16;
  const long sets = (p.nblocks + kInterleave - 1) / kInterleave;
  p.data.assign(static_cast<size_t>(sets) * kInterleave * p.groups * p.gsp * 16, 0);
  // Each task packs whole blocks of 16 channels: disjoint outputs.
  tbb::parallel_for(tbb::blocked_range<long>(0, p.nblocks), [&](const tbb::blocked_range<long>& r) {
    // Locals, not the captured references: through an int8_t
    // store the compiler must otherwise assume the sizes changed and reload
    // them on every 4-byte copy.
    const long n_rows = p.n, k = p.k, groups = p.groups, gs = group_size;
    const int8_t* codes = b.codes.data();
    int8_t* data = p.data.data();
    const PackedBView layout = p.view();
    for (long n = r.begin() * 16; n < std::min(n_rows, r.end() * 16); ++n) {
      const long nb = n / 16, j = n % 16;
      const int8_t* row = codes + n * k;
      for (long g = 0; g < groups; ++g) {
        const int8_t* src = row + g * gs;
        int8_t* dst = data + (layout.block(nb, g) - layout.data) + j * 4;
        // u8 = b + 128 is the byte b ^ 0x80; the padding stays byte 0.
        for (long i = 0; i < gs; ++i)
          dst[(i / 4) * kQuadStride + i % 4] = static_cast<int8_t>(static_cast<uint8_t>(src[i]) ^ 0x80u);
      }
    }
  });
  return p;
}

const int8_t* activation_codes(const Int8Matrix& a, long group_size, std::vector<int8_t>& storage) {
  const long groups = a.cols / group_size, gsp = (group_size + 3) / 4 * 4, kp = groups * gsp;
  if (gsp == group_size) return a.codes.data();  // every group a whole number of k-quads: in place
  storage.assign(static_cast<size_t>(a.rows) * kp, 0);
  tbb::parallel_for(tbb::blocked_range<long>(0, a.rows, 16), [&](const tbb::blocked_range<long>& r) {
    const long gs = group_size, ng = groups, stride = gsp, cols = a.cols, row_bytes = kp;
    const int8_t* codes = a.codes.data();
    int8_t* padded = storage.data();
    for (long m = r.begin(); m < r.end(); ++m)
      for (long g = 0; g < ng; ++g)
        std::memcpy(padded + m * row_bytes + g * stride, codes + m * cols + g * gs, static_cast<size_t>(gs));
  });
  return storage.data();
}

}  // namespace sqsim::kernels::vnni
