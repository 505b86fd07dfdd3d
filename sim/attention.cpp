#include "sim/attention.h"

#include <tbb/parallel_for.h>

#include <cmath>
#include <limits>

#include "quant/error.h"

namespace sqsim {

MatrixF causal_attention(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int n_kv_heads,
                         int head_dim, const AttentionMatmuls& mm, int layer) {
  const long T = q.rows();
  if (q.cols() != long(n_heads) * head_dim || k.cols() != long(n_kv_heads) * head_dim || v.cols() != k.cols() ||
      k.rows() != T || v.rows() != T)
    throw Error("causal_attention: shape mismatch");
  const int group = n_heads / n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  MatrixF out(T, q.cols());
  tbb::parallel_for(0, n_heads, [&](int h) {
    const int kvh = h / group;
    const MatrixF qh = q.middleCols(long(h) * head_dim, head_dim);
    const MatrixF kh = k.middleCols(long(kvh) * head_dim, head_dim);
    const MatrixF vh = v.middleCols(long(kvh) * head_dim, head_dim);
    MatrixF s;
    if (mm.qk) {
      s = mm.qk(layer, h, qh, kh);
    } else {
      s.noalias() = qh * kh.transpose();
    }
    if (s.rows() != T || s.cols() != T) throw Error("causal_attention: qk hook returned a wrong shape");
    for (long i = 0; i < T; ++i) {  // scale, causal mask, softmax in float
      float* r = s.row(i).data();
      float mx = -std::numeric_limits<float>::infinity();
      for (long j = 0; j <= i; ++j) {
        r[j] *= scale;
        mx = std::max(mx, r[j]);
      }
      float sum = 0.0f;
      for (long j = 0; j <= i; ++j) {
        r[j] = std::exp(r[j] - mx);
        sum += r[j];
      }
      const float inv = 1.0f / sum;
      for (long j = 0; j <= i; ++j) r[j] *= inv;
      for (long j = i + 1; j < T; ++j) r[j] = 0.0f;
    }
    MatrixF o;
    if (mm.pv) {
      o = mm.pv(layer, h, s, vh);
    } else {
      o.noalias() = s * vh;
    }
    if (o.rows() != T || o.cols() != head_dim) throw Error("causal_attention: pv hook returned a wrong shape");
    out.middleCols(long(h) * head_dim, head_dim) = o;
  });
  return out;
}

}  // namespace sqsim
