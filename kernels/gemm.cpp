#include "kernels/gemm.h"

#include "kernels/gemm_avx512vnni.h"
#include "kernels/gemm_reference.h"

namespace sqsim::kernels {

MatrixF linear_s8s8(const Int8Matrix& a, const Int8Matrix& b, const float* bias, KernelPath path) {
  switch (resolve_kernel_path(path)) {
    // validates with validate_s8s8 first, exactly like the reference
    case KernelPath::kAvx512Vnni: return linear_s8s8_avx512vnni(a, b, bias);
    default: return linear_s8s8_reference(a, b, bias);
  }
}

MatrixF linear_s8s4(const Int8Matrix& a, const Int4Matrix& b, const float* bias, KernelPath path) {
  switch (resolve_kernel_path(path)) {
    // validates with validate_s8s4 first, exactly like the reference
    case KernelPath::kAvx512Vnni: return linear_s8s4_avx512vnni(a, b, bias);
    default: return linear_s8s4_reference(a, b, bias);
  }
}

MatrixF linear_f32s4(const MatrixF& x, const Int4Matrix& b, const float* bias, KernelPath path) {
  switch (resolve_kernel_path(path)) {
    case KernelPath::kAvx512Vnni: return linear_f32s4_avx512(x, b, bias);
    default: return linear_f32s4_reference(x, b, bias);
  }
}

}  // namespace sqsim::kernels
