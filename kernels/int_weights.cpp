#include "kernels/int_weights.h"

#include "quant/error.h"

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

bool int8_representable(const QuantSpec& spec) {
  return spec.enabled() && spec.symmetric && spec.granularity != Granularity::kPerColumn;
}

bool int4_representable(const QuantSpec& spec) {
  return spec.enabled() && spec.bits <= 4 &&
         (spec.granularity == Granularity::kPerRow || spec.granularity == Granularity::kPerGroup);
}

Int8Matrix to_int8(const QuantizedMatrix& q, const std::string& what) {
  if (!int8_representable(q.spec)) {
    throw Error(what + ": the integer GEMM needs symmetric codes with per-tensor, per-row or per-group "
                       "scales (per-channel activations and zero points run in fake-quant mode)");
  }
  Int8Matrix m;
  m.rows = q.rows;
  m.cols = q.cols;
  m.bits = q.spec.bits;
  m.group_size = group_size_of(q.spec, q.cols);
  m.layout = layout_of(q.spec, q.cols);
  m.scale = q.params.scale;
  m.codes.resize(q.codes.size());
  for (size_t i = 0; i < q.codes.size(); ++i) m.codes[i] = static_cast<int8_t>(q.codes[i]);
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
  m.packed.assign(static_cast<size_t>(q.rows) * (q.cols / 2), 0);
  for (long r = 0; r < q.rows; ++r) {
    for (long k = 0; k < q.cols; ++k) {
      const uint8_t nibble = static_cast<uint8_t>(q.codes[r * q.cols + k]) & 0x0F;
      m.packed[r * (q.cols / 2) + k / 2] |= (k & 1) ? uint8_t(nibble << 4) : nibble;
    }
  }
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
  for (long n = 0; n < b.rows; ++n)
    for (long k = 0; k < b.cols; ++k)
      w.codes[n * b.cols + k] = static_cast<int8_t>(b.code(n, k) - b.zero_point[n * groups + k / b.group_size]);
  return w;
}

}  // namespace sqsim::kernels
