#pragma once
// Random and extreme integer operands shared by the GEMM path tests.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/int_weights.h"
#include "base/tensor.h"

namespace sqsim::kernels::gemm_test {

enum class Codes { kRandom, kMin, kMax, kAlternating };
enum class Scales { kPerTensor, kPerRow, kPerGroup };

inline Int8Matrix make(long rows, long cols, long group_size, int bits, Codes codes, Scales scales, uint32_t seed) {
  std::mt19937 rng(seed);
  Int8Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.group_size = group_size;
  m.bits = bits;
  const int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
  std::uniform_int_distribution<int> code(lo, hi);
  m.codes.resize(static_cast<size_t>(rows) * cols);
  for (size_t i = 0; i < m.codes.size(); ++i) {
    switch (codes) {
      case Codes::kRandom: m.codes[i] = static_cast<int8_t>(code(rng)); break;
      case Codes::kMin: m.codes[i] = static_cast<int8_t>(lo); break;
      case Codes::kMax: m.codes[i] = static_cast<int8_t>(hi); break;
      case Codes::kAlternating: m.codes[i] = static_cast<int8_t>(i % 2 ? lo : hi); break;
    }
  }
  std::uniform_real_distribution<float> sd(1e-4f, 0.1f);
  const long groups = cols / group_size;
  switch (scales) {
    case Scales::kPerTensor: m.layout = {0, 0}; m.scale = {sd(rng)}; break;
    case Scales::kPerRow: m.layout = {1, 0}; m.scale.resize(rows); break;
    case Scales::kPerGroup: m.layout = {groups, 1}; m.scale.resize(rows * groups); break;
  }
  for (float& s : m.scale) s = sd(rng);
  return m;
}

// extreme: 0 random codes, -1 lowest codes with the highest zero points, +1 the reverse.
inline Int4Matrix make_int4(long rows, long cols, long group_size, bool is_signed, int bits, int extreme, uint32_t seed) {
  std::mt19937 rng(seed);
  Int4Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.group_size = group_size;
  m.is_signed = is_signed;
  m.bits = bits;
  const long groups = cols / group_size;
  const int lo = is_signed ? -(1 << (bits - 1)) : 0, hi = is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  std::uniform_int_distribution<int> code(lo, hi);
  m.packed.assign(static_cast<size_t>(rows) * cols / 2, 0);
  for (long r = 0; r < rows; ++r) {
    for (long k = 0; k < cols; ++k) {
      const int q = extreme < 0 ? lo : extreme > 0 ? hi : code(rng);
      const uint8_t nibble = static_cast<uint8_t>(q & 0x0F);
      uint8_t& byte = m.packed[r * (cols / 2) + k / 2];
      byte = static_cast<uint8_t>((k & 1) ? (byte | (nibble << 4)) : (byte | nibble));
    }
  }
  std::uniform_real_distribution<float> sd(1e-4f, 0.1f);
  m.scale.resize(rows * groups);
  for (float& s : m.scale) s = sd(rng);
  m.zero_point.resize(rows * groups);
  for (auto& z : m.zero_point) z = is_signed ? 0 : (extreme < 0 ? hi : extreme > 0 ? lo : code(rng));
  return m;
}

// Same shape and the same bits in every element (so -0.0 != +0.0, NaN == NaN).
inline bool same_bits(const MatrixF& x, const MatrixF& y) {
  return x.rows() == y.rows() && x.cols() == y.cols() &&
         (x.size() == 0 || std::memcmp(x.data(), y.data(), sizeof(float) * x.size()) == 0);
}

}  // namespace sqsim::kernels::gemm_test
