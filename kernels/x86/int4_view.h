#pragma once
// Int4 weights as the W4A16 kernels read them, straight from an Int4Matrix's
// storage (kernels/int_weights.h). Plain types only, for files compiled with
// instruction-set flags.
#include <cstdint>

namespace sqsim::kernels {

struct Int4View {
  long n = 0, k = 0, group_size = 0;
  bool is_signed = false;
  const uint8_t* packed = nullptr;      // [n][k/2], element 2i in the low nibble of byte i
  const float* scale = nullptr;         // [n][k/group_size]
  const int32_t* zero_point = nullptr;  // [n][k/group_size]
};

// Writes float(q - zp) of channels c0 .. c0 + nc - 1 (zeros for j in nc .. width-1)
// for every k into panel[k * width + j], one value at a time: the kernels' panel
// decode for group sizes their vector decode does not cover. Exact (small integers).
inline void decode_panel_scalar(const Int4View& w, long c0, int nc, int width, float* panel) {
  const long groups = w.k / w.group_size;
  for (long i = 0; i < w.k; ++i) {
    for (int j = 0; j < width; ++j) {
      float v = 0.0f;
      const long c = c0 + j;
      if (j < nc) {
        const uint8_t byte = w.packed[c * (w.k / 2) + i / 2];
        const int nibble = (i & 1) ? (byte >> 4) : (byte & 0x0F);
        const int q = w.is_signed ? ((nibble ^ 8) - 8) : nibble;
        v = static_cast<float>(q - w.zero_point[c * groups + i / w.group_size]);
      }
      panel[i * width + j] = v;
    }
  }
}

}  // namespace sqsim::kernels
