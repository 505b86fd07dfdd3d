#include "sim/models/causal_lm.h"

#include <algorithm>

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

MatrixF CausalLm::forward_windows(const std::vector<Window>& windows) const {
  std::vector<MatrixF> parts;
  long rows = 0;
  for (const Window& w : windows) {
    check_window(w, vocab_size());
    const MatrixF all = forward(w.tokens);
    parts.push_back(all.bottomRows(all.rows() - w.first_logit_row));
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

CausalLm::StackedRows CausalLm::stack_windows(const std::vector<Window>& windows, int vocab) {
  if (windows.empty()) throw Error("forward: no token window");
  StackedRows r;
  for (const Window& w : windows) {
    check_window(w, vocab);
    r.start.push_back(r.total);
    r.size.push_back(long(w.tokens.size()));
    r.total += r.size.back();
    r.longest = std::max(r.longest, r.size.back());
  }
  return r;
}

MatrixF CausalLm::attend_by_window(const StackedRows& rows, const MatrixF& q, const MatrixF& k, const MatrixF& v,
                                   const std::function<MatrixF(MatrixF& q, MatrixF& k, MatrixF& v)>& attend) {
  MatrixF out(q.rows(), q.cols());
  for (size_t w = 0; w < rows.start.size(); ++w) {
    const long s = rows.start[w], n = rows.size[w];
    MatrixF qw = q.middleRows(s, n), kw = k.middleRows(s, n), vw = v.middleRows(s, n);
    out.middleRows(s, n) = attend(qw, kw, vw);
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
