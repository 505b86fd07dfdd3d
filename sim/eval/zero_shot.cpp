#include "sim/eval/zero_shot.h"

#include <algorithm>
#include <cmath>

#include <tbb/parallel_for.h>

#include "base/error.h"
#include "base/str.h"
#include "kernels/log_sum_exp.h"

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
  if (n_context == 0 || n_context > tokens.size()) throw Error("score_continuation: the split must be in 1..tokens");
  if (size_t(logits.rows()) + 1 < tokens.size())
    throw Error(str("score_continuation: ", logits.rows(), " logits rows for ", tokens.size(), " tokens"));
  return score_continuation_rows(logits, long(n_context) - 1, tokens, n_context);
}

namespace {

// log p(want) from one logits row with the token NLL's log-sum-exp
// (docs/statistics.md, "The token NLL": the same bits as every perplexity),
// and whether want is the row's argmax, the first index winning ties.
void score_row(const float* row, long V, int32_t want, ContinuationScore& s) {
  if (want < 0 || want >= V) throw Error(str("score_continuation: token ", want, " outside the vocabulary"));
  const kernels::MaxExpSum m = kernels::max_exp_sum(row, V);
  s.loglik += kernels::log_prob(row, m, want);
  s.greedy = s.greedy && double(row[want]) == m.max && std::find(row, row + want, row[want]) == row + want;
  ++s.tokens;
}

}  // namespace

ContinuationScore score_continuation_rows(const MatrixF& logits, long first_row, const std::vector<int32_t>& tokens,
                                          size_t n_context) {
  ContinuationScore s;
  if (n_context == 0 || n_context > tokens.size()) throw Error("score_continuation: the split must be in 1..tokens");
  if (first_row < 0 || first_row + long(tokens.size() - n_context) > logits.rows())
    throw Error(str("score_continuation: rows ", first_row, ".. of ", logits.rows(), " logits rows for ",
                    tokens.size() - n_context, " continuation tokens"));
  for (size_t t = n_context; t < tokens.size(); ++t)
    score_row(logits.row(first_row + long(t - n_context)).data(), logits.cols(), tokens[t], s);
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

namespace {

// An item's result before its requests are scored.
ItemResult item_header(const TaskItem& item) {
  ItemResult r;
  r.index = item.index;
  r.gold = item.gold;
  for (const std::string& c : item.choices) r.choice_chars.push_back(utf8_length(c));
  return r;
}

void add_score(ItemResult& r, const ContinuationScore& s) {
  r.loglik.push_back(s.loglik);
  r.greedy.push_back(s.greedy);
  r.tokens.push_back(s.tokens);
}

// Where a request's continuation logits are in a pack's output.
struct Placed {
  long row = -1;         // first row: the continuation's rows are row.. (plain window)
  long prefix_row = -1;  // or: the shared context's last row, then
  long ending_row = -1;  // the ending window's rows (-1: a one-token continuation)
};

// Scores items[begin, end) with one forward_windows. A request with a
// continuation is one window: its tokens but the last, logits from the row
// that predicts the continuation's first token. With `share`, requests of an
// item whose context tokens are the same (HellaSwag's endings, PIQA's
// solutions) become one window of the context (logits of its last row only)
// and, per request, a window of the continuation's tokens but the last that
// continues it.
std::vector<ItemResult> evaluate_pack(const CausalLm& model, const std::vector<TaskItem>& items, size_t begin,
                                      size_t end, const std::vector<std::vector<SplitRequest>>& splits, bool share) {
  std::vector<CausalLm::Window> windows;
  long out_rows = 0;
  auto add = [&](CausalLm::Window w) {
    const long first = out_rows;
    out_rows += long(w.tokens.size()) - w.first_logit_row;
    windows.push_back(std::move(w));
    return first;
  };
  auto same_context = [](const SplitRequest& a, const SplitRequest& b) {
    return a.n_context == b.n_context && std::equal(a.tokens.begin(), a.tokens.begin() + long(a.n_context),
                                                    b.tokens.begin());
  };
  std::vector<std::vector<Placed>> placed(end - begin);
  for (size_t i = begin; i < end; ++i) {
    const std::vector<SplitRequest>& qs = splits[i - begin];
    std::vector<Placed>& pl = placed[i - begin];
    pl.resize(qs.size());
    std::vector<long> context_window(qs.size(), -1), context_row(qs.size(), -1);
    for (size_t j = 0; j < qs.size(); ++j) {
      const SplitRequest& q = qs[j];
      if (q.tokens.size() == q.n_context) continue;  // an empty continuation: nothing to run
      size_t with = j;  // the first request with a continuation and the same context
      for (size_t e = 0; e < j && with == j; ++e)
        if (qs[e].tokens.size() > qs[e].n_context && same_context(qs[e], q)) with = e;
      bool shared = share && with < j;
      for (size_t e = j + 1; e < qs.size() && share && !shared; ++e)
        shared = qs[e].tokens.size() > qs[e].n_context && same_context(qs[e], q);
      if (!shared) {
        pl[j].row = add({std::vector<int32_t>(q.tokens.begin(), q.tokens.end() - 1), long(q.n_context) - 1});
        continue;
      }
      if (with == j) {  // the first of its context: the context's window
        context_window[j] = long(windows.size());
        context_row[j] = add({std::vector<int32_t>(q.tokens.begin(), q.tokens.begin() + long(q.n_context)),
                              long(q.n_context) - 1});
      }
      pl[j].prefix_row = context_row[with];
      if (q.tokens.size() - q.n_context > 1)
        pl[j].ending_row =
            add({std::vector<int32_t>(q.tokens.begin() + long(q.n_context), q.tokens.end() - 1), 0, context_window[with]});
    }
  }
  const MatrixF logits = windows.empty() ? MatrixF() : model.forward_windows(windows);
  // Requests are scored in parallel: each one's score is the same on any thread.
  std::vector<std::pair<size_t, size_t>> jobs;  // (item - begin, request)
  std::vector<std::vector<ContinuationScore>> scores(end - begin);
  for (size_t i = begin; i < end; ++i) {
    scores[i - begin].resize(splits[i - begin].size());  // an empty continuation keeps {}: log-likelihood 0, greedy
    for (size_t j = 0; j < splits[i - begin].size(); ++j)
      if (splits[i - begin][j].tokens.size() > splits[i - begin][j].n_context) jobs.emplace_back(i - begin, j);
  }
  tbb::parallel_for(size_t(0), jobs.size(), [&](size_t k) {
    const auto [i, j] = jobs[k];
    const SplitRequest& q = splits[i][j];
    const Placed& p = placed[i][j];
    if (p.row >= 0) {
      scores[i][j] = score_continuation_rows(logits, p.row, q.tokens, q.n_context);
      return;
    }
    // the context's last row, then the ending's rows
    ContinuationScore& s = scores[i][j];
    for (size_t t = q.n_context; t < q.tokens.size(); ++t) {
      const long row = t == q.n_context ? p.prefix_row : p.ending_row + long(t - q.n_context) - 1;
      score_row(logits.row(row).data(), logits.cols(), q.tokens[t], s);
    }
  });
  std::vector<ItemResult> out;
  for (size_t i = begin; i < end; ++i) {
    out.push_back(item_header(items[i]));
    for (const ContinuationScore& s : scores[i - begin]) add_score(out.back(), s);
  }
  return out;
}

}  // namespace

ItemResult evaluate_item(const CausalLm& model, const Encode& encode, const TaskItem& item) {
  ItemResult r = item_header(item);
  for (const Request& q : item.requests) {
    add_score(r, score_request(model, split_request(q, encode)));
  }
  return r;
}

bool packs_requests(const CausalLm& model, const ZeroShotOptions& options) {
  return options.pack_rows > 0 && model.rows_independent();
}

std::vector<ItemResult> evaluate_items(const CausalLm& model, const Encode& encode,
                                       const std::vector<TaskItem>& items,
                                       const std::function<void(const ItemResult&, size_t, size_t)>& on_item,
                                       const ZeroShotOptions& options) {
  std::vector<ItemResult> out;
  out.reserve(items.size());
  auto finished = [&](ItemResult r) {
    out.push_back(std::move(r));
    if (on_item) on_item(out.back(), out.size(), items.size());
  };
  if (!packs_requests(model, options)) {
    for (const TaskItem& item : items) finished(evaluate_item(model, encode, item));
    return out;
  }
  const bool share = options.share_contexts && model.shares_prefixes();
  for (size_t begin = 0; begin < items.size();) {
    // whole items until their windows reach pack_rows rows
    std::vector<std::vector<SplitRequest>> splits;
    long rows = 0;
    size_t end = begin;
    while (end < items.size() && rows < options.pack_rows) {
      splits.emplace_back();
      for (const Request& q : items[end].requests) {
        splits.back().push_back(split_request(q, encode));
        rows += long(splits.back().back().tokens.size()) - 1;
      }
      ++end;
    }
    for (ItemResult& r : evaluate_pack(model, items, begin, end, splits, share)) finished(std::move(r));
    begin = end;
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
