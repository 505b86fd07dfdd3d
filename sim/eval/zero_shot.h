#pragma once
// Zero-shot scoring as lm-evaluation-harness does it (docs/tasks.md,
// "Scoring"): each request's continuation log-likelihood under the model,
// whether every continuation token is the greedy choice, and from those the
// task metrics (acc, acc_norm, LAMBADA's acc and perplexity) with their
// standard errors.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/eval/stats.h"
#include "sim/eval/task.h"
#include "sim/models/causal_lm.h"

namespace sqsim {

// Text -> token ids, with BOS when the model's tokenizer adds one
// (tokenize_document for a loaded model).
using Encode = std::function<std::vector<int32_t>(const std::string&)>;

// A request in tokens: tokens of context + continuation, split where the
// tokenized context ends. The continuation is tokens[n_context..].
struct SplitRequest {
  std::vector<int32_t> tokens;
  size_t n_context = 0;
};
// lm-eval's split: the context's trailing whitespace (Python's rstrip) moves
// to the front of the continuation; then n_context = |encode(context)| and
// tokens = encode(context + continuation). Throws when the context encodes to
// no tokens (a model without BOS and an empty context).
SplitRequest split_request(const Request& r, const Encode& encode);

struct ContinuationScore {
  double loglik = 0;    // sum of log p(token) over the continuation's tokens
  bool greedy = true;   // every continuation token is its row's argmax (first index on ties)
  size_t tokens = 0;
};
// From logits rows of tokens[0..] (row t predicts token t + 1; at least
// tokens.size() - 1 rows), log-softmax in double.
ContinuationScore score_continuation(const MatrixF& logits, const std::vector<int32_t>& tokens, size_t n_context);
// Same, from a block of logits rows holding only the continuation's:
// logits.row(first_row + i) predicts tokens[n_context + i] (what
// CausalLm::forward_windows returns, stacked over requests).
ContinuationScore score_continuation_rows(const MatrixF& logits, long first_row, const std::vector<int32_t>& tokens,
                                          size_t n_context);
// Runs the model on tokens[0 .. size-2] and scores the continuation.
ContinuationScore score_request(const CausalLm& model, const SplitRequest& r);

// One finished item: plain data, so that a journal can append it as it is
// and a resumed run can score from it without the model.
struct ItemResult {
  size_t index = 0;               // item number in the task's data file
  int gold = -1;                  // -1 for last-word tasks
  std::vector<double> loglik;     // per request (choice)
  std::vector<bool> greedy;       // per request
  std::vector<size_t> choice_chars;  // per choice: code points of the choice string (acc_norm)
  std::vector<size_t> tokens;     // per request: continuation tokens
};

// Index of the largest value, the first on ties; a NaN counts as the largest
// (numpy's argmax, which lm-eval uses).
size_t argmax_first(const std::vector<double>& v);
// acc: the gold choice has the highest log-likelihood. acc_norm: the same
// after dividing each by its choice's length in characters (IEEE division:
// an empty choice gives -inf, or NaN for a log-likelihood of 0).
bool item_acc(const ItemResult& r);
bool item_acc_norm(const ItemResult& r);

ItemResult evaluate_item(const CausalLm& model, const Encode& encode, const TaskItem& item);

// How evaluate_items groups requests into forwards (docs/tasks.md, "Speed").
struct ZeroShotOptions {
  // Whole items are gathered until their requests' windows reach this many
  // rows, then run as one CausalLm::forward_windows (only the continuation
  // rows get logits). 0: one request per forward, all rows' logits.
  long pack_rows = 512;
  // Requests of an item with the same context tokens run the context once
  // (when the model's shares_prefixes(): float attention, independent rows).
  bool share_contexts = true;
};
// Whether evaluate_items packs requests for this model: pack_rows > 0 and
// the model's rows are independent (a preset whose activation scales are
// taken over the whole batch, as per-tensor dynamic ones are, would give a
// request other bits in a pack, so it runs one request per forward).
bool packs_requests(const CausalLm& model, const ZeroShotOptions& options);

// Scores the items in order (the model's forward is multi-threaded inside);
// packed or one request per forward as packs_requests says, with the same
// bits either way. on_item(result, done, total) runs after each item: where
// a journal appends `result` and a progress line is printed; it may throw to
// stop the run (Ctrl-C), keeping what it was given.
std::vector<ItemResult> evaluate_items(const CausalLm& model, const Encode& encode,
                                       const std::vector<TaskItem>& items,
                                       const std::function<void(const ItemResult&, size_t, size_t)>& on_item = {},
                                       const ZeroShotOptions& options = {});

struct MetricValue {
  std::string name;  // "acc", "acc_norm", "perplexity"
  double value = 0;
  double stderr_ = 0;
};
struct TaskScores {
  std::string task;
  size_t items = 0;
  std::vector<MetricValue> metrics;  // in the config's order
};
// The task's metrics over the items: acc and acc_norm as means of 0/1 with
// the sample-std standard error; LAMBADA's acc (all continuation tokens
// greedy) likewise; perplexity = exp(-mean loglik) with the delta-method
// standard error (stats.h).
TaskScores score_task(const TaskConfig& task, const std::vector<ItemResult>& results);

}  // namespace sqsim
