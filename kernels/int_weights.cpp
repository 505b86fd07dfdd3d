#include "kernels/int_weights.h"

#include <algorithm>

#include "base/error.h"

namespace sqsim::kernels {

namespace {

ScaleLayout layout_of(const QuantSpec& spec, long cols) {
  switch (spec.granularity) {
    case Granularity::kPerTensor: return {0, 0};
    case Granularity::kPerRow: return {1, 0};
    case Granularity::kPerGroup: return {cols / spec.group_size, 1};
    case Granularity::kPerColumn: break;
  }
  return {0, 0};
}

long group_size_of(const QuantSpec& spec, long cols) {
  return spec.granularity == Granularity::kPerGroup ? spec.group_size : cols;
}

}  // namespace

long padded_reduction_length(const QuantSpec& act, const QuantSpec& weight, long k) {
  long g = 0;
  for (const QuantSpec* s : {&act, &weight}) {
    if (s->enabled() && s->granularity == Granularity::kPerGroup && k % s->group_size != 0) {
      if (g != 0 && g != s->group_size) return -1;
      g = s->group_size;
    }
  }
  if (g == 0) return k;
  const long kp = (k + g - 1) / g * g;
  for (const QuantSpec* s : {&act, &weight})
    if (s->enabled() && s->granularity == Granularity::kPerGroup && kp % s->group_size != 0) return -1;
  // A finer whole grouping of the other operand must keep its group count.
  for (const QuantSpec* s : {&act, &weight})
    if (s->enabled() && s->granularity == Granularity::kPerGroup && kp / s->group_size != s->groups_per_row(k))
      return -1;
  return kp;
}

QuantizedMatrix pad_columns(const QuantizedMatrix& q, long cols) {
  if (cols < q.cols) throw Error("pad_columns: cannot pad " + std::to_string(q.cols) + " columns down to " +
                                 std::to_string(cols));
  if (cols == q.cols) return q;
  QuantizedMatrix p;
  p.rows = q.rows;
  p.cols = cols;
  p.spec = q.spec;
  p.params = q.params;
  p.codes.assign(static_cast<size_t>(q.rows) * cols, 0);
  for (long r = 0; r < q.rows; ++r) {
    std::copy(q.codes.begin() + r * q.cols, q.codes.begin() + (r + 1) * q.cols, p.codes.begin() + r * cols);
    const int16_t zero = static_cast<int16_t>(q.zero_point(r, q.cols - 1));
    std::fill(p.codes.begin() + r * cols + q.cols, p.codes.begin() + (r + 1) * cols, zero);
  }
  return p;
}

bool int8_representable(const QuantSpec& spec) {
  return spec.enabled() && spec.symmetric && spec.granularity != Granularity::kPerColumn;
}

bool int4_representable(const QuantSpec& spec) {
  return spec.enabled() && spec.bits <= 4 &&
         (spec.granularity == Granularity::kPerRow || spec.granularity == Granularity::kPerGroup);
}

Int8Matrix int8_shape(const QuantSpec& spec, long rows, long cols, const std::string& what) {
  if (!int8_representable(spec)) {
    throw Error(what + ": the integer GEMM needs symmetric codes with per-tensor, per-row or per-group "
                       "scales (per-channel activations and zero points run in fake-quant mode)");
  }
  Int8Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.bits = spec.bits;
  m.group_size = group_size_of(spec, cols);
  m.layout = layout_of(spec, cols);
  return m;
}

Int8Matrix to_int8(const QuantizedMatrix& q, const std::string& what) {
  Int8Matrix m = int8_shape(q.spec, q.rows, q.cols, what);
  m.scale = q.params.scale;
  m.codes.resize(q.codes.size());
  // Local pointers and count: an int8_t store may alias anything, so through
  // the vectors the loop reloaded their pointers every element and stayed scalar.
  const auto* __restrict src = q.codes.data();
  int8_t* __restrict dst = m.codes.data();
  const size_t n = q.codes.size();
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<int8_t>(src[i]);
  return m;
}

Int4Matrix to_int4(const QuantizedMatrix& q, const std::string& what) {
  if (!int4_representable(q.spec)) {
    throw Error(what + ": int4 packing needs bits <= 4 with per-channel or group scales");
  }
  if (q.cols % 2 != 0) {
    throw Error(what + ": int4 packing needs an even number of input channels, got " + std::to_string(q.cols));
  }
  Int4Matrix m;
  m.rows = q.rows;
  m.cols = q.cols;
  m.bits = q.spec.bits;
  m.is_signed = q.spec.symmetric;
  m.group_size = group_size_of(q.spec, q.cols);
  m.scale = q.params.scale;
  m.zero_point = q.params.zero_point;
  // Byte i holds codes 2i (low nibble) and 2i + 1 (high nibble); rows are
  // contiguous and cols is even, so the whole matrix is one run of pairs (a
  // loop GCC vectorizes: the sweep packs weights on every configuration).
  const size_t bytes = static_cast<size_t>(q.rows) * (q.cols / 2);
  m.packed.resize(bytes);
  const int16_t* c = q.codes.data();
  for (size_t i = 0; i < bytes; ++i)
    m.packed[i] = static_cast<uint8_t>((uint8_t(c[2 * i]) & 0x0F) | ((uint8_t(c[2 * i + 1]) & 0x0F) << 4));
  return m;
}

Int8Matrix int4_as_int8(const Int4Matrix& b) {
  Int8Matrix w;
  w.rows = b.rows;
  w.cols = b.cols;
  w.group_size = b.group_size;
  w.bits = 8;
  w.codes.resize(static_cast<size_t>(b.rows) * b.cols);
  const long groups = b.groups();
  if (b.group_size % 2 != 0) {  // a byte's two codes may belong to different groups
    for (long n = 0; n < b.rows; ++n)
      for (long k = 0; k < b.cols; ++k)
        w.codes[n * b.cols + k] = static_cast<int8_t>(b.code(n, k) - b.zero_point[n * groups + k / b.group_size]);
    return w;
  }
  // Even groups: runs of whole bytes sharing one zero point, in a loop GCC
  // vectorizes (W4A8 unpacks its weights on every call). Same values as code():
  // the nibble, or for two's complement (nibble ^ 8) - 8, minus the zero point.
  const int flip = b.is_signed ? 8 : 0;
  for (long n = 0; n < b.rows; ++n) {
    const uint8_t* row = b.packed.data() + n * (b.cols / 2);
    int8_t* out = w.codes.data() + n * b.cols;
    for (long g = 0; g < groups; ++g) {
      const long k0 = g * b.group_size, k1 = std::min(k0 + b.group_size, b.cols);
      const int shift = flip + b.zero_point[n * groups + g];
      for (long i = k0 / 2; i < k1 / 2; ++i) {
        out[2 * i] = static_cast<int8_t>(((row[i] & 0x0F) ^ flip) - shift);
        out[2 * i + 1] = static_cast<int8_t>(((row[i] >> 4) ^ flip) - shift);
      }
    }
  }
  return w;
}

}  // namespace sqsim::kernels
