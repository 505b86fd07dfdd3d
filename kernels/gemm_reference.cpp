#include "kernels/gemm_reference.h"

#include <cmath>
#include <vector>

#include <algorithm>
#include <limits>

#include "base/error.h"

namespace sqsim::kernels {

void require_int32_accumulation(long k_per_acc, long max_abs_a, long max_abs_b, const std::string& what) {
  // Each code magnitude is below 2^31, so their product fits int64; the
  // multiply by k is checked by division so it cannot overflow either.
  const long long limit = std::numeric_limits<int32_t>::max();
  const long long ab = static_cast<long long>(max_abs_a) * max_abs_b;
  if (ab != 0 && static_cast<long long>(k_per_acc) > limit / ab) {
    throw Error(what + ": " + std::to_string(k_per_acc) + " products of up to " + std::to_string(max_abs_a) +
                " x " + std::to_string(max_abs_b) + " per accumulator could overflow int32 (at most " +
                std::to_string(limit / ab) + " allowed; use smaller groups)");
  }
}

long max_abs_code(const Int8Matrix& m) { return 1L << (m.bits - 1); }

long max_abs_code(const Int4Matrix& m) {
  return m.is_signed ? (1L << (m.bits - 1)) : (1L << m.bits) - 1;
}

long accumulator_group_size(long a_group, long b_group, long k, const std::string& what) {
  const long lo = std::min(a_group, b_group), hi = std::max(a_group, b_group);
  if (lo <= 0 || k % lo != 0 || hi % lo != 0) {
    throw Error(what + ": activation groups of " + std::to_string(a_group) + " and weight groups of " +
                std::to_string(b_group) + " do not nest (expected one to divide the other and K = " +
                std::to_string(k) + ")");
  }
  return lo;
}

namespace {

void require_same_k(long ka, long kb, const std::string& what) {
  if (ka != kb) {
    throw Error(what + ": activations have " + std::to_string(ka) + " input channels, weights " +
                std::to_string(kb) + " (expected equal)");
  }
  if (ka <= 0) throw Error(what + ": empty reduction dimension");
}

}  // namespace

long validate_s8s8(const Int8Matrix& a, const Int8Matrix& b, const std::string& what) {
  require_same_k(a.cols, b.cols, what);
  const long g = accumulator_group_size(a.group_size, b.group_size, a.cols, what);
  require_int32_accumulation(g, max_abs_code(a), max_abs_code(b), what);
  return g;
}

long validate_s8s4(const Int8Matrix& a, const Int4Matrix& b, const std::string& what) {
  require_same_k(a.cols, b.cols, what);
  const long g = accumulator_group_size(a.group_size, b.group_size, a.cols, what);
  require_int32_accumulation(g, max_abs_code(a), max_abs_code(b), what);
  return g;
}

void gemm_s8s8s32_reference(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc) {
  const long m_rows = a.rows, n_rows = b.rows, k = a.cols, groups = k / group_size;
  for (long m = 0; m < m_rows; ++m) {
    const int8_t* ar = a.codes.data() + m * k;
    for (long n = 0; n < n_rows; ++n) {
      const int8_t* br = b.codes.data() + n * k;
      for (long g = 0; g < groups; ++g) {
        int32_t sum = 0;
        for (long i = g * group_size; i < (g + 1) * group_size; ++i) {
          sum += static_cast<int32_t>(ar[i]) * static_cast<int32_t>(br[i]);
        }
        acc[(m * n_rows + n) * groups + g] = sum;
      }
    }
  }
}

void gemm_s8s4s32_reference(const Int8Matrix& a, const Int4Matrix& b, long group_size, int32_t* acc) {
  const long m_rows = a.rows, n_rows = b.rows, k = a.cols, groups = k / group_size;
  std::vector<int32_t> w(k);
  for (long n = 0; n < n_rows; ++n) {
    for (long i = 0; i < k; ++i) w[i] = b.code(n, i) - b.zero_point[n * b.groups() + i / b.group_size];
    for (long m = 0; m < m_rows; ++m) {
      const int8_t* ar = a.codes.data() + m * k;
      for (long g = 0; g < groups; ++g) {
        int32_t sum = 0;
        for (long i = g * group_size; i < (g + 1) * group_size; ++i) sum += static_cast<int32_t>(ar[i]) * w[i];
        acc[(m * n_rows + n) * groups + g] = sum;
      }
    }
  }
}

ScaleView scales_of(const Int8Matrix& m) { return {m.scale.data(), m.layout, m.group_size}; }

ScaleView scales_of(const Int4Matrix& m) { return {m.scale.data(), {m.groups(), 1}, m.group_size}; }

void epilogue_reference(const ScaleView& a, const ScaleView& b, long m_rows, long n_rows, long k,
                        long group_size, const int32_t* acc, const float* bias, float* y) {
  const long groups = k / group_size;
  // Offsets of accumulator group g's scales in each operand's scale array
  // (what a.at(m, g * group_size) indexes), computed once instead of per output.
  std::vector<long> a_off(static_cast<size_t>(groups)), b_off(static_cast<size_t>(groups));
  for (long g = 0; g < groups; ++g) {
    a_off[g] = a.layout.index(0, g * group_size / a.group_size);
    b_off[g] = b.layout.index(0, g * group_size / b.group_size);
  }
  for (long m = 0; m < m_rows; ++m) {
    const float* as = a.data + a.layout.index(m, 0);
    for (long n = 0; n < n_rows; ++n) {
      const float* bs = b.data + b.layout.index(n, 0);
      const int32_t* accs = acc + (m * n_rows + n) * groups;
      float sum = 0.0f;
      for (long g = 0; g < groups; ++g) {
        const float t = (static_cast<float>(accs[g]) * as[a_off[g]]) * bs[b_off[g]];
        sum = g == 0 ? t : sum + t;
      }
      if (bias) sum = sum + bias[n];
      y[m * n_rows + n] = sum;
    }
  }
}

MatrixF linear_s8s8_reference(const Int8Matrix& a, const Int8Matrix& b, const float* bias) {
  const long g = validate_s8s8(a, b, "int8 GEMM");
  std::vector<int32_t> acc(static_cast<size_t>(a.rows) * b.rows * (a.cols / g));
  gemm_s8s8s32_reference(a, b, g, acc.data());
  MatrixF y(a.rows, b.rows);
  epilogue_reference(scales_of(a), scales_of(b), a.rows, b.rows, a.cols, g, acc.data(), bias, y.data());
  return y;
}

MatrixF linear_s8s4_reference(const Int8Matrix& a, const Int4Matrix& b, const float* bias) {
  const long g = validate_s8s4(a, b, "int8 x int4 GEMM");
  std::vector<int32_t> acc(static_cast<size_t>(a.rows) * b.rows * (a.cols / g));
  gemm_s8s4s32_reference(a, b, g, acc.data());
  MatrixF y(a.rows, b.rows);
  epilogue_reference(scales_of(a), scales_of(b), a.rows, b.rows, a.cols, g, acc.data(), bias, y.data());
  return y;
}

MatrixF linear_f32s4_reference(const MatrixF& x, const Int4Matrix& b, const float* bias) {
  if (x.cols() != b.cols) {
    throw Error("float x int4 GEMM: activations have " + std::to_string(x.cols()) + " input channels, weights " +
                std::to_string(b.cols) + " (expected equal)");
  }
  const long m_rows = x.rows(), n_rows = b.rows, k = b.cols, gs = b.group_size, groups = b.groups();
  MatrixF y(m_rows, n_rows);
  std::vector<float> w(k);
  for (long n = 0; n < n_rows; ++n) {
    // The weight row dequantized exactly as quant/ dequantizes: one rounding.
    for (long i = 0; i < k; ++i) {
      const long p = n * groups + i / gs;
      w[i] = static_cast<float>(b.code(n, i) - b.zero_point[p]) * b.scale[p];
    }
    for (long m = 0; m < m_rows; ++m) {
      const float* xr = x.row(m).data();
      // One fused multiply-add chain over k in order from +0 (the float GEMM's order, kernels/sgemm.h).
      float sum = 0.0f;
      for (long i = 0; i < k; ++i) sum = std::fma(xr[i], w[i], sum);
      if (bias) sum = sum + bias[n];
      y(m, n) = sum;
    }
  }
  return y;
}

}  // namespace sqsim::kernels
