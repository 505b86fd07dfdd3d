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

// The dequantized weights of W4A16 (docs/quantization.md, "int4 weights"),
// w[c][i] = float(q - zp) * s, one rounding, written as B panels of `width`
// channels over all of K: panel p holds channels p*width .. p*width + width - 1
// at bp + p*k*width, element (i, j) at [i*width + j], channels past w.n zero.
// Panels [p0, p1). `row` is scratch for k floats.
inline void dequantize_panels(const Int4View& w, long width, long p0, long p1, float* row, float* bp) {
  const long groups = w.k / w.group_size, bytes = w.k / 2;
  for (long p = p0; p < p1; ++p) {
    float* dst = bp + p * w.k * width;
    for (long j = 0; j < width; ++j) {
      const long c = p * width + j;
      if (c >= w.n) {
        for (long i = 0; i < w.k; ++i) dst[i * width + j] = 0.0f;
        continue;
      }
      const uint8_t* q = w.packed + c * bytes;
      // Nibbles to integers first (a loop the compiler vectorizes), then q - zp and the scale per group.
      for (long i = 0; i < bytes; ++i) {
        const int lo = q[i] & 0x0F, hi = q[i] >> 4;
        row[2 * i] = static_cast<float>(w.is_signed ? (lo ^ 8) - 8 : lo);
        row[2 * i + 1] = static_cast<float>(w.is_signed ? (hi ^ 8) - 8 : hi);
      }
      for (long g = 0; g < groups; ++g) {
        const float s = w.scale[c * groups + g];
        const int32_t zp = w.zero_point[c * groups + g];
        for (long i = g * w.group_size; i < (g + 1) * w.group_size; ++i)
          dst[i * width + j] = static_cast<float>(static_cast<int32_t>(row[i]) - zp) * s;
      }
    }
  }
}

}  // namespace sqsim::kernels
