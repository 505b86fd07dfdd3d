#include "kernels/vecmath.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/sgemm.h"

namespace sqsim::kernels {

void softmax_scaled_portable(float* r, long n, float scale) {
  float mx = -std::numeric_limits<float>::infinity();
  for (long j = 0; j < n; ++j) {
    r[j] *= scale;
    mx = std::max(mx, r[j]);
  }
  float sum = 0.0f;
  for (long j = 0; j < n; ++j) {
    r[j] = std::exp(r[j] - mx);
    sum += r[j];
  }
  const float inv = 1.0f / sum;
  for (long j = 0; j < n; ++j) r[j] *= inv;
}

void silu_mul_portable(float* g, const float* u, long n) {
  Eigen::Map<Eigen::ArrayXf> a(g, n);
  const Eigen::Map<const Eigen::ArrayXf> b(u, n);
  a = a / (1.0f + (-a).exp()) * b;
}

void softmax_scaled(float* x, long n, float scale) {
  if (sgemm_avx512_available()) {
    softmax_scaled_avx512(x, n, scale);
  } else {
    softmax_scaled_portable(x, n, scale);
  }
}

void silu_mul(float* g, const float* u, long n) {
  if (sgemm_avx512_available()) {
    silu_mul_avx512(g, u, n);
  } else {
    silu_mul_portable(g, u, n);
  }
}

}  // namespace sqsim::kernels
