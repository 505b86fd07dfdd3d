#pragma once
// The float epilogue as the fused int8 kernels read it (plain types only, so
// the AVX-512 / AVX2 kernel files can include it). For output (m, c) and
// accumulator group g, exactly the reference's operations
// (kernels/gemm_reference.h, epilogue_reference):
//   t_g = (float(acc_g) * a_scale[m * groups + g]) * b_scale[g * n_pad + c]
//   y   = t_0, then y + t_g for g = 1, 2, ... (left to right)
//   y   = y + bias[c]   (only when bias is not null)
// The tables are built by epilogue_tables (kernels/gemm_epilogue.h).
namespace sqsim::kernels {

struct EpilogueView {
  const float* a_scale = nullptr;  // [m_rows][groups]: activation scale of row m, accumulator group g
  const float* b_scale = nullptr;  // [groups][n_pad]: weight scale of channel c, group g; 0 in the padding
  const float* bias = nullptr;     // [n] or null
  long n_pad = 0;                  // channels rounded up to the kernel's block (16 or 8)
};

}  // namespace sqsim::kernels
