// The Int8Matrix-level functions of kernels/x86/avx2_path.h: packing,
// validation and the reference epilogue in plain C++ around the AVX2 kernels.
#include <algorithm>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "kernels/x86/pack_pmaddwd.h"
#include "kernels/x86/epilogue.h"
#include "kernels/x86/avx2_path.h"
#include "kernels/x86/f32s4_avx2.h"
#include "kernels/x86/int4_view.h"
#include "kernels/gemm_reference.h"
#include "base/error.h"

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

void linear_avx2(const Int8Matrix& a, const avx2::PackedB& b, const ScaleView& b_scales, const float* bias, float* y) {
  if (a.cols != b.k) {
    throw Error("int8 GEMM (prepacked weights): activations have " + std::to_string(a.cols) +
                " input channels, packed weights " + std::to_string(b.k) + " (expected equal)");
  }
  const std::vector<int16_t> pa = avx2::pack_a(a, b.gs);
  const long n_pad = b.nblocks * 8;
  const EpilogueTables t = epilogue_tables(scales_of(a), b_scales, a.rows, b.n, b.k, b.gs, n_pad);
  avx2::gemm_packed_f32_avx2(pa.data(), a.rows, b.view(), t.view(bias, n_pad), y);
}

MatrixF linear_s8s8_avx2(const Int8Matrix& a, const Int8Matrix& b, const float* bias) {
  const long g = validate_s8s8(a, b, "int8 GEMM");
  MatrixF y(a.rows, b.rows);
  linear_avx2(a, avx2::pack_b(b, g), scales_of(b), bias, y.data());
  return y;
}

MatrixF linear_s8s4_avx2(const Int8Matrix& a, const Int4Matrix& b, const float* bias) {
  const long g = validate_s8s4(a, b, "int8 x int4 GEMM");
  MatrixF y(a.rows, b.rows);
  linear_avx2(a, avx2::pack_b(int4_as_int8(b), g), scales_of(b), bias, y.data());
  return y;
}

MatrixF linear_f32s4_avx2(const MatrixF& x, const Int4Matrix& b, const float* bias) {
  return linear_f32s4_avx2(x, b, bias, W4A16Kernel::kAuto);
}

MatrixF linear_f32s4_avx2(const MatrixF& x, const Int4Matrix& b, const float* bias, W4A16Kernel kernel) {
  (void)kernel;  // one kernel for every M since the FMA-chain definition (kernels/kernel_path.h)
  if (x.cols() != b.cols) return linear_f32s4_reference(x, b, bias);  // the reference's error
  const long m_rows = x.rows(), n_rows = b.rows, k = b.cols, w = avx2::kW4A16PanelCols;
  const long panels = (n_rows + w - 1) / w;
  // The weights dequantized once per call into panels (K x N floats: small
  // beside the M x N x K products of a prefill).
  std::vector<float> bp(size_t(panels * w * k));
  const Int4View v = int4_view(b);
  tbb::parallel_for(tbb::blocked_range<long>(0, panels, 4), [&](const tbb::blocked_range<long>& r) {
    std::vector<float> row(static_cast<size_t>(k));
    dequantize_panels(v, w, r.begin(), r.end(), row.data(), bp.data());
  });
  // Tiles of (at most 256 rows, one panel): disjoint outputs, each one FMA chain.
  MatrixF y(m_rows, n_rows);
  const long row_blocks = (m_rows + 255) / 256;
  tbb::parallel_for(tbb::blocked_range<long>(0, row_blocks * panels), [&](const tbb::blocked_range<long>& r) {
    for (long t = r.begin(); t < r.end(); ++t) {
      const long rb = t / panels, p = t % panels, m0 = rb * 256;
      avx2::f32s4_panel_fma_avx2(x.data(), k, m0, std::min(m_rows, m0 + 256), bp.data() + p * w * k, k, p, n_rows,
                                 bias, y.data(), n_rows);
    }
  });
  return y;
}

}  // namespace sqsim::kernels
