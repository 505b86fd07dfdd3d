#pragma once
// W4A16's int4 weights rearranged once into the order of the float GEMM's B
// panels (kernels/x86/sgemm_avx512.h), so that dequantizing them per call is a
// few vector instructions per 32 weights: one 16-byte load per k of a panel
// instead of a strided write per weight. The values dequantized from it are
// those of dequantize_panels (kernels/x86/int4_view.h), bit for bit. Plain
// types only, for files compiled with instruction-set flags.
#include <cstdint>
#include <vector>

#include "kernels/x86/int4_view.h"

namespace sqsim::kernels {

// Panels of kW4A16Width channels; row i of a panel holds its 32 codes in 16
// bytes, channel j (< 16) in the low nibble of byte j and channel 16 + j in
// the high nibble. Per panel and group, the 32 channels' zero points and
// scales. Channels past n: code 0, zero point 0, scale 0 (they dequantize to
// +0, as the float packing pads).
constexpr long kW4A16Width = 32;
struct W4A16Panels {
  long n = 0, k = 0, group_size = 0;
  bool is_signed = false;
  std::vector<uint8_t> codes;      // [panel][k][16]
  std::vector<int32_t> zero_point; // [panel][group][32]
  std::vector<float> scale;        // [panel][group][32]
  long panels() const { return (n + kW4A16Width - 1) / kW4A16Width; }
  long groups() const { return k / group_size; }
};

inline W4A16Panels make_w4a16_panels(const Int4View& w) {
  constexpr long W = kW4A16Width, H = W / 2;
  W4A16Panels p;
  p.n = w.n;
  p.k = w.k;
  p.group_size = w.group_size;
  p.is_signed = w.is_signed;
  const long panels = p.panels(), groups = p.groups(), bytes = w.k / 2;
  p.codes.assign(size_t(panels * w.k * H), 0);
  p.zero_point.assign(size_t(panels * groups * W), 0);
  p.scale.assign(size_t(panels * groups * W), 0.0f);
  for (long c = 0; c < w.n; ++c) {
    const long panel = c / W, j = c % W;
    const uint8_t* q = w.packed + c * bytes;
    uint8_t* dst = p.codes.data() + panel * w.k * H + (j % H);
    const int shift = j < H ? 0 : 4;
    for (long i = 0; i < w.k; ++i) {
      const uint8_t nibble = (i & 1) ? uint8_t(q[i / 2] >> 4) : uint8_t(q[i / 2] & 0x0F);
      dst[i * H] = uint8_t(dst[i * H] | (nibble << shift));
    }
    for (long g = 0; g < groups; ++g) {
      p.zero_point[size_t((panel * groups + g) * W + j)] = w.zero_point[c * groups + g];
      p.scale[size_t((panel * groups + g) * W + j)] = w.scale[c * groups + g];
    }
  }
  return p;
}

// Rows [0, depth) of panels [p0, p1) of w dequantized, float(q - zp) * s (one
// rounding, as dequantize_panels), into float GEMM B panels of that depth at
// bp (panel p at bp + p * depth * 32). When depth < w.k and tail is not null,
// tail[p * 32 + j] receives what rows [depth, w.k) do to a chain whose
// activations there are +0 (padding): e = fma(+0, w, e) over them from e = -0,
// i.e. -0 (nothing), +0 (turns a -0 sum into +0) or NaN (an infinite scale).
// Adding e to the chain of rows [0, depth) gives the whole chain's bits.
// (kernels/x86/w4a16_panels_avx512.cpp; call only where the CPU has AVX-512F.)
void dequantize_w4a16_panels_avx512(const W4A16Panels& w, long p0, long p1, long depth, float* bp, float* tail);

}  // namespace sqsim::kernels
