#include "kernels/bf16.h"

#include "kernels/x86/bf16_avx512bf16.h"
#include "kernels/cpu_features.h"

namespace sqsim::kernels {

void to_bf16_scalar(const float* in, long n, uint16_t* out) {
  for (long i = 0; i < n; ++i) out[i] = bf16_round(in[i]);
}

Bf16Matrix to_bf16(const MatrixF& x) {
  Bf16Matrix b{x.rows(), x.cols(), std::vector<uint16_t>(static_cast<size_t>(x.size()))};
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512bf16) to_bf16_avx512bf16(x.data(), x.size(), b.bits.data());
  else to_bf16_scalar(x.data(), x.size(), b.bits.data());
  return b;
}

MatrixF widen_bf16(const Bf16Matrix& x) {
  MatrixF y(x.rows, x.cols);
  for (long i = 0; i < y.size(); ++i) y.data()[i] = bf16_widen(x.bits[i]);
  return y;
}

}  // namespace sqsim::kernels
