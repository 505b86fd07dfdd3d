#pragma once
// Integer operands of the GEMM kernels, built from quantized matrices:
// int8 codes with their scales, and int4 codes packed two per byte with
// per-group scales and zero points (docs/quantization.md, "Integer GEMM").
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/x86/int4_view.h"
#include "quant/quantize.h"

namespace sqsim::kernels {

// Where the scale of (row r, group g) lives: scale[r * row_stride + g * group_stride].
// Per-tensor: (0, 0); per-row: (1, 0); per-group: (groups, 1).
struct ScaleLayout {
  long row_stride = 0;
  long group_stride = 0;
  long index(long r, long g) const { return r * row_stride + g * group_stride; }
};

// Symmetric int8 codes, [rows, K] row-major, one accumulator per group of
// `group_size` columns (group_size == K: a single accumulator).
struct Int8Matrix {
  long rows = 0, cols = 0;
  long group_size = 0;
  std::vector<int8_t> codes;
  std::vector<float> scale;
  ScaleLayout layout;
  int bits = 8;  // the code range is [-2^(bits-1), 2^(bits-1) - 1]
  long groups() const { return cols / group_size; }
};

// Int4 weights [rows, K]: row r, element 2i in the low nibble of byte r*K/2 + i,
// element 2i+1 in the high nibble. Unsigned codes 0..15 with zero points
// (asymmetric) or two's-complement codes -8..7 with zero point 0 (symmetric).
struct Int4Matrix {
  long rows = 0, cols = 0;
  long group_size = 0;
  bool is_signed = false;
  int bits = 4;  // codes use at most this many bits (2..4)
  std::vector<uint8_t> packed;
  std::vector<float> scale;         // [rows, groups]
  std::vector<int32_t> zero_point;  // [rows, groups]
  long groups() const { return cols / group_size; }
  int code(long r, long k) const {
    const uint8_t byte = packed[r * (cols / 2) + k / 2];
    const int nibble = (k & 1) ? (byte >> 4) : (byte & 0x0F);
    return is_signed ? ((nibble ^ 8) - 8) : nibble;
  }
};

// From a symmetric quantized matrix (bits <= 8, per-tensor / per-row /
// per-group granularity; per-column scales cannot be applied after the sum).
Int8Matrix to_int8(const QuantizedMatrix& q, const std::string& what);
// to_int8's result for a [rows, cols] matrix quantized with spec, less its
// codes and scales (left empty); the same refusal of specs it cannot hold.
Int8Matrix int8_shape(const QuantSpec& spec, long rows, long cols, const std::string& what);
// From a quantized weight matrix with bits <= 4 (per-row or per-group; even K).
Int4Matrix to_int4(const QuantizedMatrix& q, const std::string& what);

// Int4 weights widened to int8 values w = q - zp[n, g] (|w| <= 15), same shape
// and group size, no scales: what the int8 kernels multiply for W4A8.
Int8Matrix int4_as_int8(const Int4Matrix& b);

// The plain view the in-kernel dequantizing W4A16 kernels read.
inline Int4View int4_view(const Int4Matrix& b) {
  return {b.rows, b.cols, b.group_size, b.is_signed, b.packed.data(), b.scale.data(), b.zero_point.data()};
}

// True when `to_int8` / `to_int4` accept matrices of this spec.
bool int8_representable(const QuantSpec& spec);
// The K the integer GEMM needs for these two operands: K rounded up to whole
// groups of the grouped one(s) (docs/quantization.md, "Granularity"), or -1
// when two different group sizes leave a ragged last group (no common padding
// keeps both groupings; such layers run in fake-quant mode).
long padded_reduction_length(const QuantSpec& act, const QuantSpec& weight, long k);
// q with zero columns appended up to `cols`: codes equal to the zero point of
// the row's last parameter group, so every padded product is exactly 0.
QuantizedMatrix pad_columns(const QuantizedMatrix& q, long cols);
bool int4_representable(const QuantSpec& spec);

}  // namespace sqsim::kernels
