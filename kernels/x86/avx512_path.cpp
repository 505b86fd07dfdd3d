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
#include "kernels/x86/int4_view.h"
#include "kernels/x86/w4a16_panels.h"
#include "kernels/x86/sgemm_avx512.h"
#include "kernels/bf16.h"
#include "kernels/sgemm.h"
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
  std::vector<int32_t> a_comp(static_cast<size_t>(a.rows * pb.groups));
  if (emulated) vnni::gemm_packed_f32_avx512_emulated(pa, a.rows, pb.view(), a_comp.data(), e, y);
  else vnni::gemm_packed_f32_avx512vnni(pa, a.rows, pb.view(), a_comp.data(), e, y);
}

}  // namespace

void gemm_s8s8s32_avx512vnni(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc) {
  const vnni::PackedB pb = vnni::pack_b(b, group_size);
  std::vector<int8_t> padded;
  const int8_t* pa = vnni::activation_codes(a, group_size, padded);
  std::vector<int32_t> a_comp(static_cast<size_t>(a.rows * pb.groups));
  vnni::gemm_packed_avx512vnni(pa, a.rows, pb.view(), a_comp.data(), acc);
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
  std::vector<int32_t> a_comp(static_cast<size_t>(a.rows * b.packed->groups));
  vnni::gemm_packed_avx512vnni(pa, a.rows, b.packed->view(), a_comp.data(), acc);
}

void gemm_s8s8s32_avx512_emulated_vnni(const Int8Matrix& a, const Int8Matrix& b, long group_size, int32_t* acc) {
  const vnni::PackedB pb = vnni::pack_b(b, group_size);
  std::vector<int8_t> padded;
  const int8_t* pa = vnni::activation_codes(a, group_size, padded);
  std::vector<int32_t> a_comp(static_cast<size_t>(a.rows * pb.groups));
  vnni::gemm_packed_avx512_emulated(pa, a.rows, pb.view(), a_comp.data(), acc);
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

MatrixF linear_f32s4_avx512(const MatrixF& x, const Int4Matrix& b, const float* bias) {
  return linear_f32s4_avx512(x, b, bias, W4A16Kernel::kAuto);
}

MatrixF linear_f32s4_avx512(const MatrixF& x, const Int4Matrix& b, const float* bias, W4A16Kernel kernel) {
  (void)kernel;  // one kernel for every M since the FMA-chain definition (kernels/kernel_path.h)
  return linear_f32s4_avx512(x, b, bias, static_cast<const PackedA*>(nullptr));
}

MatrixF linear_f32s4_avx512(const MatrixF& x, const Int4Matrix& b, const float* bias, const PackedA* packed_a) {
  if (x.cols() != b.cols) {  // the reference's check and message
    throw Error("float x int4 GEMM: activations have " + std::to_string(x.cols()) + " input channels, weights " +
                std::to_string(b.cols) + " (expected equal)");
  }
  return linear_f32s4_avx512(x, make_w4a16_panels(int4_view(b)), bias, packed_a);
}

MatrixF linear_f32s4_avx512(const MatrixF& x, const W4A16Panels& b, const float* bias, const PackedA* packed_a) {
  // x may stop short of the weights' (padded) depth: its missing columns are
  // +0, as PreparedLinear pads a ragged last group.
  if (x.cols() > b.k || x.cols() <= b.k - b.group_size) {
    throw Error("float x int4 GEMM: activations have " + std::to_string(x.cols()) + " input channels, weights " +
                std::to_string(b.k) + " (expected equal, or short of it by less than a group of " +
                std::to_string(b.group_size) + ")");
  }
  const long m_rows = x.rows(), n_rows = b.n, k = x.cols();
  if (sgemm_b_panel_cols() != kW4A16Width) throw Error("float x int4 GEMM: panel width mismatch");
  MatrixF y(m_rows, n_rows);
  if (m_rows == 0 || n_rows == 0) return y;
  const bool have_a = packed_a && !packed_a->empty();
  if (have_a && (packed_a->m != m_rows || packed_a->k != k))
    throw Error("float x int4 GEMM: packed activations are " + std::to_string(packed_a->m) + " x " +
                std::to_string(packed_a->k) + ", the product needs " + std::to_string(m_rows) + " x " +
                std::to_string(k));
  // The weights dequantized once per call straight into the float GEMM's B
  // panels (K x N values, small beside the M x N x K products of a prefill),
  // then the float GEMM's tiles: every output is its one FMA chain over k.
  // Not zero-filled: every element is written, padding included.
  const long panels = b.panels();
  const std::unique_ptr<float[]> bp(new float[size_t(panels * kW4A16Width * k)]);
  std::vector<float> tail(k < b.k ? size_t(panels * kW4A16Width) : 0);
  tbb::parallel_for(tbb::blocked_range<long>(0, panels, 4), [&](const tbb::blocked_range<long>& r) {
    dequantize_w4a16_panels_avx512(b, r.begin(), r.end(), k, bp.get(), tail.empty() ? nullptr : tail.data());
  });
  // The padded rows' effect e joins the bias, added once after the chain:
  // (chain + e) + bias == chain + (e + bias) for e in {-0, +0, NaN}.
  if (!tail.empty() && bias)
    for (long n = 0; n < n_rows; ++n) tail[size_t(n)] = tail[size_t(n)] + bias[n];
  SgemmArgs g;
  g.m = m_rows;
  g.n = n_rows;
  g.k = k;
  g.a = x.data();
  g.lda = x.cols();
  g.layout = BLayout::kNK;
  g.c = y.data();
  g.ldc = n_rows;
  g.bias = tail.empty() ? bias : tail.data();
  sgemm_panels_parallel(g, bp.get(), have_a ? packed_a->data.get() : nullptr);
  return y;
}

MatrixF linear_bf16s4_avx512(const Bf16Matrix& x, const Int4Matrix& b, const float* bias, W4A16Kernel kernel) {
  return linear_f32s4_avx512(widen_bf16(x), b, bias, kernel);  // defined on the widened activations
}

}  // namespace sqsim::kernels
