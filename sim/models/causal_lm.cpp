#include "sim/models/causal_lm.h"

#include <algorithm>

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

MatrixF CausalLm::forward_windows(const std::vector<Window>& windows) const {
  stack_windows(windows, vocab_size());
  std::vector<MatrixF> parts;
  long rows = 0;
  for (const Window& w : windows) {
    std::vector<int32_t> tokens = w.prefix >= 0 ? windows[size_t(w.prefix)].tokens : std::vector<int32_t>();
    tokens.insert(tokens.end(), w.tokens.begin(), w.tokens.end());
    const MatrixF all = forward(tokens);
    parts.push_back(all.bottomRows(long(w.tokens.size()) - w.first_logit_row));
    rows += parts.back().rows();
  }
  MatrixF out(rows, vocab_size());
  long r = 0;
  for (const MatrixF& p : parts) {
    out.middleRows(r, p.rows()) = p;
    r += p.rows();
  }
  return out;
}

bool CausalLm::rows_independent() const {
  for (const std::string& n : linear_names())
    if (!linear(n).rows_independent()) return false;
  return true;
}

bool CausalLm::shares_prefixes() const {
  return rows_independent() && !attention_matmuls.projections && !attention_matmuls.heads &&
         !attention_matmuls.blocks;
}

// The block-level calls of families without them.
MatrixF CausalLm::embed_windows(const std::vector<std::vector<int32_t>>&) const {
  throw Error(architecture() + ": no block-level forward (the Llama-like families have one)");
}
MatrixF CausalLm::forward_block(int, const MatrixF&, const std::vector<long>&, BlockInputs*,
                                const LinearOverrides&) const {
  throw Error(architecture() + ": no block-level forward (the Llama-like families have one)");
}
MatrixF CausalLm::attention_module(int, const MatrixF&, const std::vector<long>&, const LinearOverrides&) const {
  throw Error(architecture() + ": no attention-module forward (the Llama-like families have one)");
}
MatrixF CausalLm::mlp_module(int, const MatrixF&, const LinearOverrides&) const {
  throw Error(architecture() + ": no MLP-module forward (the Llama-like families have one)");
}

CausalLm::StackedRows CausalLm::stack_sizes(const std::vector<long>& sizes) {
  if (sizes.empty()) throw Error("forward_block: no window");
  StackedRows r;
  for (long n : sizes) {
    if (n <= 0) throw Error(str("forward_block: a window of ", n, " rows"));
    r.start.push_back(r.total);
    r.size.push_back(n);
    r.pos0.push_back(0);
    r.prefix.push_back(-1);
    r.total += n;
    r.longest = std::max(r.longest, n);
  }
  return r;
}

CausalLm::StackedRows CausalLm::stack_windows(const std::vector<Window>& windows, int vocab) {
  if (windows.empty()) throw Error("forward: no token window");
  StackedRows r;
  for (size_t w = 0; w < windows.size(); ++w) {
    const Window& x = windows[w];
    check_window(x, vocab);
    long pos0 = 0;
    if (x.prefix >= 0) {
      if (x.prefix >= long(w) || windows[size_t(x.prefix)].prefix >= 0)
        throw Error(str("forward: window ", w, " has prefix ", x.prefix, ", not an earlier window without one"));
      pos0 = long(windows[size_t(x.prefix)].tokens.size());
    }
    r.start.push_back(r.total);
    r.size.push_back(long(x.tokens.size()));
    r.pos0.push_back(pos0);
    r.prefix.push_back(x.prefix);
    r.total += r.size.back();
    r.longest = std::max(r.longest, pos0 + r.size.back());
  }
  return r;
}

MatrixF CausalLm::attend_by_window(
    const StackedRows& rows, const MatrixF& q, const MatrixF& k, const MatrixF& v,
    const std::function<void(MatrixF& q, MatrixF& k, MatrixF& v, long pos0)>& prepare,
    const std::function<MatrixF(const MatrixF& q, const MatrixF& k, const MatrixF& v)>& attend) {
  MatrixF out(q.rows(), q.cols());
  std::vector<MatrixF> kept_k(rows.start.size()), kept_v(rows.start.size());  // of windows others continue
  std::vector<char> continued(rows.start.size(), 0);
  for (long p : rows.prefix)
    if (p >= 0) continued[size_t(p)] = 1;
  for (size_t w = 0; w < rows.start.size(); ++w) {
    const long s = rows.start[w], n = rows.size[w];
    MatrixF qw = q.middleRows(s, n), kw = k.middleRows(s, n), vw = v.middleRows(s, n);
    prepare(qw, kw, vw, rows.pos0[w]);
    if (rows.prefix[w] >= 0) {
      const MatrixF& kp = kept_k[size_t(rows.prefix[w])];
      const MatrixF& vp = kept_v[size_t(rows.prefix[w])];
      MatrixF kc(kp.rows() + n, kw.cols()), vc(vp.rows() + n, vw.cols());
      kc << kp, kw;
      vc << vp, vw;
      out.middleRows(s, n) = attend(qw, kc, vc);
    } else {
      out.middleRows(s, n) = attend(qw, kw, vw);
    }
    if (continued[w]) {
      kept_k[w] = std::move(kw);
      kept_v[w] = std::move(vw);
    }
  }
  return out;
}

MatrixF CausalLm::logit_rows(const MatrixF& x, const StackedRows& rows, const std::vector<Window>& windows) {
  long n = 0;
  for (size_t w = 0; w < windows.size(); ++w) n += rows.size[w] - windows[w].first_logit_row;
  MatrixF out(n, x.cols());
  long r = 0;
  for (size_t w = 0; w < windows.size(); ++w) {
    const long first = windows[w].first_logit_row, m = rows.size[w] - first;
    out.middleRows(r, m) = x.middleRows(rows.start[w] + first, m);
    r += m;
  }
  return out;
}

void CausalLm::check_window(const Window& w, int vocab) {
  if (w.tokens.empty()) throw Error("forward: empty token window");
  if (w.first_logit_row < 0 || w.first_logit_row > long(w.tokens.size()))
    throw Error(str("forward: first logits row ", w.first_logit_row, " outside a window of ", w.tokens.size(),
                    " tokens"));
  for (int32_t t : w.tokens)
    if (t < 0 || t >= vocab) throw Error(str("forward: token id ", t, " outside the vocabulary of ", vocab));
}

std::unique_ptr<LinearLayer> CausalLm::swap_linear(std::unique_ptr<LinearLayer>& s, std::unique_ptr<LinearLayer> layer,
                                                   const std::string& n) {
  if (!layer) throw Error("replace_linear " + n + ": null layer");
  if (layer->in_features() != s->in_features() || layer->out_features() != s->out_features())
    throw Error(str("replace_linear ", n, ": layer is ", layer->out_features(), "x", layer->in_features(),
                    ", expected ", s->out_features(), "x", s->in_features()));
  std::swap(s, layer);
  return layer;
}

}  // namespace sqsim
