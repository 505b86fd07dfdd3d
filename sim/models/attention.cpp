#include "sim/models/attention.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/sgemm.h"
#include "kernels/vecmath.h"
#include "base/error.h"

namespace sqsim {

namespace {

// Query rows per block of the unhooked path. Block b computes scores only
// against keys 0..(its last row), so about half of the T x T products (the
// masked upper triangle) are skipped. The size does not change any bits: a
// score row is the same product whatever block it is in, and P·V over keys
// past the row's own position only adds exact zeros to the FMA chain. For
// the same reason a window's last rows computed alone (queries after a
// shared prefix) get the bits they get in the whole window.
constexpr long kQueryBlock = 128;

kernels::SgemmArgs product(long m, long n, long k, const float* a, long lda, const float* b, long ldb,
                           kernels::BLayout layout, float* c, long ldc) {
  kernels::SgemmArgs g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a;
  g.lda = lda;
  g.b = b;
  g.ldb = ldb;
  g.layout = layout;
  g.c = c;
  g.ldc = ldc;
  return g;
}

// Calls f(h, i0, rows, keys) for every head h and block of kQueryBlock query
// rows [i0, i0 + rows), whose last query sees keys [0, keys) (pos0 keys of a
// shared prefix before the first query), in parallel, heaviest blocks (last
// rows, most keys) first for balance. f may keep per-thread buffers: the
// paths below run no TBB tasks of their own inside it.
template <class F>
void for_each_query_block(long rows_q, long pos0, int n_heads, const F& f) {
  const long blocks = (rows_q + kQueryBlock - 1) / kQueryBlock;
  tbb::parallel_for(tbb::blocked_range<long>(0, blocks * n_heads, 1), [&](const tbb::blocked_range<long>& r) {
    for (long t = r.begin(); t < r.end(); ++t) {
      const long i0 = (blocks - 1 - t / n_heads) * kQueryBlock, rows = std::min(kQueryBlock, rows_q - i0);
      f(int(t % n_heads), i0, rows, pos0 + i0 + rows);
    }
  });
}

// Scale, causal mask and softmax of score rows i0.. of width `width`, ld
// floats apart (row r is query i0 + r and sees keys 0..i0+r, or only the last
// opt.window of them).
// With an ALiBi slope m, key j of query i gets m * (j - i) after the scaling;
// with a cap, the scaled scores are soft-capped (attention.h). Without a
// window, slope or cap this is exactly the original Llama/OPT row.
void causal_softmax(float* s, long rows, long width, long ld, long i0, float scale, const AttentionOptions& opt,
                    const float* slope) {
  for (long r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    const long n = i0 + r + 1;
    const long lo = opt.window > 0 ? std::max(0L, n - opt.window) : 0;
    std::fill(row, row + lo, 0.0f);
    if (slope) {
      for (long j = lo; j < n; ++j) row[j] = row[j] * scale + *slope * float(j - (n - 1));
      kernels::softmax_scaled(row + lo, n - lo, 1.0f);
    } else if (opt.softcap > 0.0f) {
      // Hugging Face's order: (q·k * scale) / cap, tanh, * cap
      for (long j = lo; j < n; ++j) row[j] = std::tanh(row[j] * scale / opt.softcap) * opt.softcap;
      kernels::softmax_scaled(row + lo, n - lo, 1.0f);
    } else {
      kernels::softmax_scaled(row + lo, n - lo, scale);
    }
    std::fill(row + n, row + width, 0.0f);
  }
}

// The documented hook contract: the heads hook sees the whole q, k, v of the
// layer once; its products each get one head.
MatrixF attention_with_hooks(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int group,
                             int head_dim, const AttentionMatmuls& mm, int layer, float scale,
                             const AttentionOptions& opt, const float* slopes) {
  const long T = q.rows();
  const HeadMatmuls hm = mm.heads(layer, q, k, v, head_dim);
  MatrixF out(T, q.cols());
  tbb::parallel_for(0, n_heads, [&](int h) {
    const int kvh = h / group;
    MatrixF s;
    if (hm.qk) {
      s = hm.qk(h, kvh);
    } else {
      s.resize(T, T);
      kernels::sgemm(product(T, T, head_dim, q.data() + long(h) * head_dim, q.cols(), k.data() + long(kvh) * head_dim,
                             k.cols(), kernels::BLayout::kNK, s.data(), T));
    }
    if (s.rows() != T || s.cols() != T) throw Error("causal_attention: qk hook returned a wrong shape");
    causal_softmax(s.data(), T, T, T, 0, scale, opt, slopes ? slopes + h : nullptr);
    MatrixF o;
    if (hm.pv) {
      o = hm.pv(h, kvh, s);
    } else {
      o.resize(T, head_dim);
      kernels::sgemm(product(T, head_dim, T, s.data(), T, v.data() + long(kvh) * head_dim, v.cols(),
                             kernels::BLayout::kKN, o.data(), head_dim));
    }
    if (o.rows() != T || o.cols() != head_dim) throw Error("causal_attention: pv hook returned a wrong shape");
    out.middleCols(long(h) * head_dim, head_dim) = o;
  });
  return out;
}

// The unhooked path on the AVX-512 float GEMM with K and V packed once per
// layer and KV head (instead of once per query block and head): the same
// micro-kernel on the same panels, so every score and output keeps the bits
// kernels::sgemm gives it (one FMA chain over k in order). Only packing work
// goes away.
void blocked_attention_avx512(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int group,
                              int head_dim, float scale, const AttentionOptions& opt, const float* slopes,
                              MatrixF& out) {
  const long T = k.rows(), rows_q = q.rows(), pos0 = T - rows_q, n_kv = n_heads / group, hd = head_dim;
  // Per KV head: K as the B of Q·Kᵀ ([T, hd] rows: kNK) and V as the B of P·V
  // ([T, hd]: kKN, depth T); a query block uses the first `keys` of each.
  std::vector<kernels::PackedB> kp(static_cast<size_t>(n_kv)), vp(static_cast<size_t>(n_kv));
  for (long g = 0; g < n_kv; ++g) {
    kp[size_t(g)] = kernels::pack_b(k.data() + g * hd, k.cols(), kernels::BLayout::kNK, T, hd);
    vp[size_t(g)] = kernels::pack_b(v.data() + g * hd, v.cols(), kernels::BLayout::kKN, hd, T);
  }
  for_each_query_block(rows_q, pos0, n_heads, [&](int h, long i0, long rows, long keys) {
    thread_local std::vector<float> scores;
    const int kvh = h / group;
    // P is read in place by P·V (not packed: that was a copy of it), so its
    // rows are 64 bytes more than whole cache lines apart: never a multiple
    // of 4 KiB, which would put the 12 rows a micro-kernel reads in one set.
    const long ld = (keys + 15) / 16 * 16 + 16;
    scores.resize(size_t(rows * ld));
    const long off_q = long(h) * hd;
    kernels::sgemm_prefix(product(rows, keys, hd, q.data() + i0 * q.cols() + off_q, q.cols(), nullptr, 0,
                                  kernels::BLayout::kNK, scores.data(), ld),
                          kp[size_t(kvh)]);
    causal_softmax(scores.data(), rows, keys, ld, pos0 + i0, scale, opt, slopes ? slopes + h : nullptr);
    kernels::sgemm_prefix(product(rows, hd, keys, scores.data(), ld, nullptr, 0, kernels::BLayout::kKN,
                                  out.data() + i0 * out.cols() + off_q, out.cols()),
                          vp[size_t(kvh)], kernels::ARead::kInPlace);
  });
}

// The blocks hook's products (attention.h, BlockMatmuls) over the same query
// blocks and softmax rows as the float paths.
void attention_by_blocks(const MatrixF& q, int n_heads, int group, int head_dim, const BlockMatmuls& bm,
                         float scale, const AttentionOptions& opt, const float* slopes, MatrixF& out) {
  for_each_query_block(q.rows(), 0, n_heads, [&](int h, long i0, long rows, long keys) {
    // Per thread, not per task: a fresh megabyte per task was 16% of the
    // forward in the kernel's page clearing.
    thread_local std::vector<float> scores;
    const int kvh = h / group;
    scores.resize(size_t(rows * keys));
    bm.qk(h, kvh, i0, rows, keys, scores.data());
    causal_softmax(scores.data(), rows, keys, keys, i0, scale, opt, slopes ? slopes + h : nullptr);
    bm.pv(h, kvh, rows, keys, scores.data(), out.data() + i0 * out.cols() + long(h) * head_dim, out.cols());
  });
}

}  // namespace

MatrixF causal_attention(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int n_kv_heads,
                         int head_dim, const AttentionMatmuls& mm, int layer, long window,
                         const VectorF* alibi_slopes) {
  AttentionOptions opt;
  opt.window = window;
  opt.alibi_slopes = alibi_slopes;
  return causal_attention(q, k, v, n_heads, n_kv_heads, head_dim, opt, mm, layer);
}

MatrixF causal_attention(const MatrixF& q, const MatrixF& k, const MatrixF& v, int n_heads, int n_kv_heads,
                         int head_dim, const AttentionOptions& opt, const AttentionMatmuls& mm, int layer) {
  const long T = k.rows();
  if (n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0 || n_heads % n_kv_heads != 0 ||
      q.cols() != long(n_heads) * head_dim || k.cols() != long(n_kv_heads) * head_dim || v.cols() != k.cols() ||
      q.rows() > T || q.rows() == 0 || v.rows() != T)
    throw Error("causal_attention: shape mismatch");
  if (opt.alibi_slopes && opt.alibi_slopes->size() != n_heads)
    throw Error("causal_attention: one ALiBi slope per head expected");
  const float* slopes = opt.alibi_slopes ? opt.alibi_slopes->data() : nullptr;
  const int group = n_heads / n_kv_heads;
  if (!(opt.scale >= 0.0f) || opt.window < 0 || !(opt.softcap >= 0.0f))
    throw Error("causal_attention: negative or NaN scale, window or softcap");
  const float scale = opt.scale > 0.0f ? opt.scale : 1.0f / std::sqrt(float(head_dim));
  if (mm.heads || mm.blocks) {
    if (q.rows() != T) throw Error("causal_attention: attention hooks need the queries of the whole window");
    const BlockMatmuls bm = mm.blocks ? mm.blocks(layer, q, k, v, head_dim) : BlockMatmuls{};
    if (bm.qk && bm.pv) {
      MatrixF out(T, q.cols());
      attention_by_blocks(q, n_heads, group, head_dim, bm, scale, opt, slopes, out);
      return out;
    }
    if (!mm.heads) throw Error("causal_attention: the blocks hook gave no products and there is no heads hook");
    return attention_with_hooks(q, k, v, n_heads, group, head_dim, mm, layer, scale, opt, slopes);
  }

  // Query row r is position pos0 + r (pos0 > 0: the queries of a window's
  // last rows, whose earlier keys came from a shared prefix).
  const long rows_q = q.rows(), pos0 = T - rows_q;
  MatrixF out(rows_q, q.cols());
  if (kernels::sgemm_avx512_available()) {
    blocked_attention_avx512(q, k, v, n_heads, group, head_dim, scale, opt, slopes, out);
    return out;
  }
  for_each_query_block(rows_q, pos0, n_heads, [&](int h, long i0, long rows, long keys) {
    thread_local std::vector<float> scores;
    const int kvh = h / group;
    scores.resize(size_t(rows * keys));
    const long off_q = long(h) * head_dim, off_kv = long(kvh) * head_dim;
    kernels::sgemm(product(rows, keys, head_dim, q.data() + i0 * q.cols() + off_q, q.cols(), k.data() + off_kv,
                           k.cols(), kernels::BLayout::kNK, scores.data(), keys));
    causal_softmax(scores.data(), rows, keys, keys, pos0 + i0, scale, opt, slopes ? slopes + h : nullptr);
    kernels::sgemm(product(rows, head_dim, keys, scores.data(), keys, v.data() + off_kv, v.cols(),
                           kernels::BLayout::kKN, out.data() + i0 * out.cols() + off_q, out.cols()));
  });
  return out;
}

}  // namespace sqsim
