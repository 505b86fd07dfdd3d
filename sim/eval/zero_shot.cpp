#include "sim/eval/zero_shot.h"

#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

SplitRequest split_request(const Request& r, const Encode& encode) {
  const std::string context = python_strip(r.context, false, true);
  const std::string continuation = r.context.substr(context.size()) + r.continuation;
  SplitRequest s;
  s.n_context = encode(context).size();
  if (s.n_context == 0) throw Error("zero-shot request: the context encodes to no tokens (empty, and no BOS)");
  s.tokens = encode(context + continuation);
  if (s.tokens.size() < s.n_context)
    throw Error("zero-shot request: context + continuation encodes to fewer tokens than the context");
  return s;
}

ContinuationScore score_continuation(const MatrixF& logits, const std::vector<int32_t>& tokens, size_t n_context) {
  ContinuationScore s;
  if (n_context == 0 || n_context > tokens.size()) throw Error("score_continuation: the split must be in 1..tokens");
  if (size_t(logits.rows()) + 1 < tokens.size())
    throw Error(str("score_continuation: ", logits.rows(), " logits rows for ", tokens.size(), " tokens"));
  const long V = logits.cols();
  for (size_t t = n_context; t < tokens.size(); ++t) {
    const float* row = logits.row(long(t - 1)).data();
    const int32_t want = tokens[t];
    if (want < 0 || want >= V) throw Error(str("score_continuation: token ", want, " outside the vocabulary"));
    double mx = -std::numeric_limits<double>::infinity();
    long best = 0;
    for (long j = 0; j < V; ++j)
      if (double(row[j]) > mx) {
        mx = double(row[j]);
        best = j;
      }
    double sum = 0;
    for (long j = 0; j < V; ++j) sum += std::exp(double(row[j]) - mx);
    s.loglik += double(row[want]) - mx - std::log(sum);
    s.greedy = s.greedy && best == want;
    ++s.tokens;
  }
  return s;
}

ContinuationScore score_request(const CausalLm& model, const SplitRequest& r) {
  if (r.tokens.size() == r.n_context) return {};  // an empty continuation: log-likelihood 0, greedy
  const std::vector<int32_t> input(r.tokens.begin(), r.tokens.end() - 1);
  return score_continuation(model.forward(input), r.tokens, r.n_context);
}

size_t argmax_first(const std::vector<double>& v) {
  size_t best = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return i;
    if (v[i] > v[best]) best = i;
  }
  return best;
}

bool item_acc(const ItemResult& r) { return r.gold >= 0 && argmax_first(r.loglik) == size_t(r.gold); }

bool item_acc_norm(const ItemResult& r) {
  std::vector<double> norm(r.loglik.size());
  for (size_t i = 0; i < norm.size(); ++i) norm[i] = r.loglik[i] / double(r.choice_chars.at(i));
  return r.gold >= 0 && argmax_first(norm) == size_t(r.gold);
}

ItemResult evaluate_item(const CausalLm& model, const Encode& encode, const TaskItem& item) {
  ItemResult r;
  r.index = item.index;
  r.gold = item.gold;
  for (const std::string& c : item.choices) r.choice_chars.push_back(utf8_length(c));
  for (const Request& q : item.requests) {
    const ContinuationScore s = score_request(model, split_request(q, encode));
    r.loglik.push_back(s.loglik);
    r.greedy.push_back(s.greedy);
    r.tokens.push_back(s.tokens);
  }
  return r;
}

std::vector<ItemResult> evaluate_items(const CausalLm& model, const Encode& encode,
                                       const std::vector<TaskItem>& items,
                                       const std::function<void(const ItemResult&, size_t, size_t)>& on_item) {
  std::vector<ItemResult> out;
  out.reserve(items.size());
  for (const TaskItem& item : items) {
    out.push_back(evaluate_item(model, encode, item));
    if (on_item) on_item(out.back(), out.size(), items.size());
  }
  return out;
}

TaskScores score_task(const TaskConfig& task, const std::vector<ItemResult>& results) {
  TaskScores out;
  out.task = task.name;
  out.items = results.size();
  for (const std::string& m : task.metrics) {
    std::vector<double> x;
    for (const ItemResult& r : results) {
      if (task.kind == TaskKind::kLastWord)
        x.push_back(m == "acc" ? double(r.greedy.at(0)) : r.loglik.at(0));
      else
        x.push_back(m == "acc" ? double(item_acc(r)) : double(item_acc_norm(r)));
    }
    const MeanStderr s = m == "perplexity" ? perplexity_from_logliks(x) : mean_stderr(x);
    out.metrics.push_back({m, s.mean, s.stderr_});
  }
  return out;
}

}  // namespace sqsim
