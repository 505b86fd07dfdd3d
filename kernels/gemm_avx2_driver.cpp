// The Int8Matrix-level functions of kernels/gemm_int8_avx2.h: packing,
// validation and the reference epilogue in plain C++ around the AVX2 kernels.
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "kernels/gemm_avx2_pack.h"
#include "kernels/gemm_int8_avx2.h"
#include "kernels/gemm_reference.h"
#include "kernels/gemm_vnni_parallel.h"
#include "quant/error.h"

namespace sqsim::kernels {

void gemm_s8s8s32_avx2(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc) {
  const avx2::PackedB pb = avx2::pack_b(b, group_size);
  gemm_s8s8s32_avx2(a, pb, acc);
}

void gemm_s8s8s32_avx2(const Int8Matrix& a, const avx2::PackedB& b, int32_t* acc) {
  if (a.cols != b.k) {
    throw Error("int8 GEMM (prepacked weights): activations have " + std::to_string(a.cols) +
                " input channels, packed weights " + std::to_string(b.k) + " (expected equal)");
  }
  const std::vector<int16_t> pa = avx2::pack_a(a, b.gs);
  avx2::gemm_packed_avx2(pa.data(), a.rows, b.view(), acc);
}

void gemm_s8s4s32_avx2(const Int8Matrix& a, const Int4Matrix& b, long group_size, int32_t* acc) {
  gemm_s8s8s32_avx2(a, int4_as_int8(b), group_size, acc);
}

MatrixF linear_s8s8_avx2(const Int8Matrix& a, const Int8Matrix& b, const float* bias) {
  const long g = validate_s8s8(a, b, "int8 GEMM");
  std::vector<int32_t> acc(static_cast<size_t>(a.rows) * b.rows * (a.cols / g));
  gemm_s8s8s32_avx2(a, b, g, acc.data());
  MatrixF y(a.rows, b.rows);
  vnni::epilogue_parallel(scales_of(a), scales_of(b), a.rows, b.rows, a.cols, g, acc.data(), bias, y.data());
  return y;
}

MatrixF linear_s8s4_avx2(const Int8Matrix& a, const Int4Matrix& b, const float* bias) {
  const long g = validate_s8s4(a, b, "int8 x int4 GEMM");
  std::vector<int32_t> acc(static_cast<size_t>(a.rows) * b.rows * (a.cols / g));
  gemm_s8s4s32_avx2(a, b, g, acc.data());
  MatrixF y(a.rows, b.rows);
  vnni::epilogue_parallel(scales_of(a), scales_of(b), a.rows, b.rows, a.cols, g, acc.data(), bias, y.data());
  return y;
}

MatrixF linear_f32s4_avx2(const MatrixF& x, const Int4Matrix& b, const float* bias) {
  // Group sizes that are not multiples of 16 keep the reference loop (exact by definition).
  if (x.cols() != b.cols || b.group_size % 16 != 0) return linear_f32s4_reference(x, b, bias);
  MatrixF y(x.rows(), b.rows);
  const Int4View w = int4_view(b);
  // Each task owns whole output columns: disjoint writes, any thread count.
  tbb::parallel_for(tbb::blocked_range<long>(0, b.rows, 16), [&](const tbb::blocked_range<long>& r) {
    avx2::f32s4_rows_avx2(x.data(), x.rows(), w, bias, r.begin(), r.end(), y.data());
  });
  return y;
}

}  // namespace sqsim::kernels
