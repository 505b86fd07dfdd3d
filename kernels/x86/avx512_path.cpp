// The Int8Matrix-level functions of kernels/x86/avx512_path.h: packing,
// validation and the epilogue in plain C++, the inner kernel in the
// instruction-set specific files (s8s8_avx512vnni.cpp, s8s8_emulated_vnni_avx512.cpp).
#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/x86/avx512_path.h"
#include "kernels/x86/epilogue.h"
#include "kernels/gemm_reference.h"
#include "kernels/x86/pack_vnni.h"
#include "kernels/x86/f32s4_avx512.h"
#include "base/error.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace sqsim::kernels {

namespace {

// GEMM with the fused epilogue on packed weights (accumulator group pb.gs).
void linear_packed(const Int8Matrix& a, const vnni::PackedB& pb, const ScaleView& b_scales, const float* bias,
                   bool emulated, float* y) {
  std::vector<int8_t> padded;
  const int8_t* pa = vnni::activation_codes(a, pb.gs, padded);
  const long n_pad = pb.nblocks * 16;
  const EpilogueTables t = epilogue_tables(scales_of(a), b_scales, a.rows, pb.n, pb.k, pb.gs, n_pad);
  const EpilogueView e = t.view(bias, n_pad);
  if (emulated) vnni::gemm_packed_f32_avx512_emulated(pa, a.rows, pb.view(), e, y);
  else vnni::gemm_packed_f32_avx512vnni(pa, a.rows, pb.view(), e, y);
}

}  // namespace

void gemm_s8s8s32_avx512vnni(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc) {
  const vnni::PackedB pb = vnni::pack_b(b, group_size);
  std::vector<int8_t> padded;
  const int8_t* pa = vnni::activation_codes(a, group_size, padded);
  vnni::gemm_packed_avx512vnni(pa, a.rows, pb.view(), acc);
}

Int8PackedWeights pack_weights_avx512vnni(const Int8Matrix& b, long group_size) {
  Int8PackedWeights w;
  w.packed = std::make_shared<const vnni::PackedB>(vnni::pack_b(b, group_size));
  w.rows = b.rows;
  w.cols = b.cols;
  w.group_size = group_size;
  return w;
}

void gemm_s8s8s32_avx512vnni(const Int8Matrix& a, const Int8PackedWeights& b, int32_t* acc) {
  if (!b.packed || a.cols != b.cols) {
    throw Error("int8 GEMM (prepacked weights): activations have " + std::to_string(a.cols) +
                " input channels, packed weights " + std::to_string(b.cols) + " (expected equal)");
  }
  std::vector<int8_t> padded;
  const int8_t* pa = vnni::activation_codes(a, b.group_size, padded);
  vnni::gemm_packed_avx512vnni(pa, a.rows, b.packed->view(), acc);
}

void gemm_s8s8s32_avx512_emulated_vnni(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc) {
  const vnni::PackedB pb = vnni::pack_b(b, group_size);
  std::vector<int8_t> padded;
  const int8_t* pa = vnni::activation_codes(a, group_size, padded);
  vnni::gemm_packed_avx512_emulated(pa, a.rows, pb.view(), acc);
}

MatrixF linear_s8s8_avx512vnni(const Int8Matrix& a, const Int8Matrix& b, const float* bias) {
  const long g = validate_s8s8(a, b, "int8 GEMM");
  MatrixF y(a.rows, b.rows);
  linear_packed(a, vnni::pack_b(b, g), scales_of(b), bias, false, y.data());
  return y;
}

MatrixF linear_s8s8_avx512_emulated_vnni(const Int8Matrix& a, const Int8Matrix& b, const float* bias) {
  const long g = validate_s8s8(a, b, "int8 GEMM");
  MatrixF y(a.rows, b.rows);
  linear_packed(a, vnni::pack_b(b, g), scales_of(b), bias, true, y.data());
  return y;
}

void linear_avx512vnni(const Int8Matrix& a, const Int8PackedWeights& b, const ScaleView& b_scales, const float* bias,
                       float* y) {
  if (!b.packed || a.cols != b.cols) {
    throw Error("int8 GEMM (prepacked weights): activations have " + std::to_string(a.cols) +
                " input channels, packed weights " + std::to_string(b.cols) + " (expected equal)");
  }
  linear_packed(a, *b.packed, b_scales, bias, false, y);
}


void gemm_s8s4s32_avx512vnni(const Int8Matrix& a, const Int4Matrix& b, long group_size, int32_t* acc) {
  gemm_s8s8s32_avx512vnni(a, int4_as_int8(b), group_size, acc);
}

MatrixF linear_s8s4_avx512vnni(const Int8Matrix& a, const Int4Matrix& b, const float* bias) {
  const long g = validate_s8s4(a, b, "int8 x int4 GEMM");
  MatrixF y(a.rows, b.rows);
  // The int4 weights widened to q - zp (exact in s8); their own scales feed the epilogue.
  linear_packed(a, vnni::pack_b(int4_as_int8(b), g), scales_of(b), bias, false, y.data());
  return y;
}

namespace {

// The W4A16 kernels on float32 or bfloat16 activations x [m_rows, b.cols];
// kRows needs b.group_size % 16 == 0.
template <typename X>
void w4a16_avx512(const X* x, long m_rows, const Int4Matrix& b, const float* bias, W4A16Kernel kernel, float* y) {
  const long n_rows = b.rows;
  const Int4View w = int4_view(b);
  if (kernel == W4A16Kernel::kPanel) {
    // Tiles of (row block, panel of 16 channels): disjoint outputs, each computed
    // by the same operations whatever the tiling, so any thread count gives the
    // same bits. Row blocks of at most 512 rows: a panel is decoded once per tile.
    const long panels = (n_rows + 15) / 16;
    const long row_blocks = (m_rows + 511) / 512, rows_per_block = (m_rows + row_blocks - 1) / row_blocks;
    tbb::parallel_for(tbb::blocked_range<long>(0, row_blocks * panels), [&](const tbb::blocked_range<long>& r) {
      for (long t = r.begin(); t < r.end(); ++t) {
        const long rb = t / panels, p = t % panels;
        const long m0 = rb * rows_per_block, m1 = std::min(m_rows, m0 + rows_per_block);
        const long n0 = p * 16, n1 = std::min(n_rows, p * 16 + 16);
        if constexpr (std::is_same_v<X, float>) w4a16::f32s4_panel_avx512(x, m0, m1, w, bias, n0, n1, y);
        else w4a16::bf16s4_panel_avx512(x, m0, m1, w, bias, n0, n1, y);
      }
    });
    return;
  }
  // Codes dequantized inside the kernel; each task owns whole output columns.
  tbb::parallel_for(tbb::blocked_range<long>(0, n_rows, 16), [&](const tbb::blocked_range<long>& r) {
    if constexpr (std::is_same_v<X, float>) w4a16::f32s4_rows_avx512(x, m_rows, w, bias, r.begin(), r.end(), y);
    else w4a16::bf16s4_rows_avx512(x, m_rows, w, bias, r.begin(), r.end(), y);
  });
}

}  // namespace

MatrixF linear_f32s4_avx512(const MatrixF& x, const Int4Matrix& b, const float* bias) {
  return linear_f32s4_avx512(x, b, bias, W4A16Kernel::kAuto);
}

MatrixF linear_f32s4_avx512(const MatrixF& x, const Int4Matrix& b, const float* bias, W4A16Kernel kernel) {
  if (x.cols() != b.cols) {  // the reference's check and message
    throw Error("float x int4 GEMM: activations have " + std::to_string(x.cols()) + " input channels, weights " +
                std::to_string(b.cols) + " (expected equal)");
  }
  const long m_rows = x.rows(), n_rows = b.rows, k = b.cols, gs = b.group_size, groups = b.groups();
  MatrixF y(m_rows, n_rows);
  if (kernel == W4A16Kernel::kAuto) kernel = m_rows >= kW4A16PanelMinRows ? W4A16Kernel::kPanel : W4A16Kernel::kRows;
  if (kernel == W4A16Kernel::kPanel || gs % 16 == 0) {
    w4a16_avx512(x.data(), m_rows, b, bias, kernel, y.data());
    return y;
  }
  // Other group sizes: widen each row to floats first. Each task owns whole output columns n: disjoint writes.
  tbb::parallel_for(tbb::blocked_range<long>(0, n_rows, 4), [&](const tbb::blocked_range<long>& r) {
    std::vector<float> wf(k);
    for (long n = r.begin(); n < r.end(); ++n) {
      for (long i = 0; i < k; ++i) wf[i] = static_cast<float>(b.code(n, i) - b.zero_point[n * groups + i / gs]);
      w4a16::row_avx512(x.data(), m_rows, k, wf.data(), k, gs, b.scale.data() + n * groups, bias != nullptr,
                        bias ? bias[n] : 0.0f, y.data() + n, n_rows);
    }
  });
  return y;
}

Int4GemvPack pack_gemv_avx512(const Int4Matrix& b) {
  if (b.group_size % 16 != 0) throw Error("int4 GEMV packing: group size " + std::to_string(b.group_size) +
                                          " (expected a multiple of 16)");
  Int4GemvPack p;
  w4a16::pack_gemv_avx512(int4_view(b), p);
  return p;
}

namespace {

// Each task owns whole blocks of 16 output channels: disjoint writes, and every
// output is computed by the same operations whatever the split.
template <typename X>
MatrixF gemv_packed(const X* x, long m_rows, long x_cols, const Int4GemvPack& w, const float* bias) {
  if (x_cols != w.k) {  // the reference's check and message
    throw Error("float x int4 GEMM: activations have " + std::to_string(x_cols) + " input channels, weights " +
                std::to_string(w.k) + " (expected equal)");
  }
  MatrixF y(m_rows, w.n);
  const Int4GemvView g = w.view();
  tbb::parallel_for(tbb::blocked_range<long>(0, (w.n + 15) / 16), [&](const tbb::blocked_range<long>& r) {
    if constexpr (std::is_same_v<X, float>) w4a16::f32s4_gemv_blocks_avx512(x, m_rows, g, bias, r.begin(), r.end(), y.data());
    else w4a16::bf16s4_gemv_blocks_avx512(x, m_rows, g, bias, r.begin(), r.end(), y.data());
  });
  return y;
}

}  // namespace

MatrixF linear_f32s4_gemv_avx512(const MatrixF& x, const Int4GemvPack& w, const float* bias) {
  return gemv_packed(x.data(), x.rows(), x.cols(), w, bias);
}

MatrixF linear_bf16s4_gemv_avx512(const Bf16Matrix& x, const Int4GemvPack& w, const float* bias) {
  return gemv_packed(x.bits.data(), x.rows, x.cols, w, bias);
}

MatrixF linear_bf16s4_avx512(const Bf16Matrix& x, const Int4Matrix& b, const float* bias, W4A16Kernel kernel) {
  if (x.cols != b.cols) return linear_f32s4_avx512(widen_bf16(x), b, bias, kernel);  // the float path's error
  if (kernel == W4A16Kernel::kAuto) kernel = x.rows >= kW4A16PanelMinRows ? W4A16Kernel::kPanel : W4A16Kernel::kRows;
  // The row kernel's vector decode needs groups of 16k columns; others widen first.
  if (kernel == W4A16Kernel::kRows && b.group_size % 16 != 0) return linear_f32s4_avx512(widen_bf16(x), b, bias, kernel);
  MatrixF y(x.rows, b.rows);
  w4a16_avx512(x.bits.data(), x.rows, b, bias, kernel, y.data());
  return y;
}

}  // namespace sqsim::kernels
