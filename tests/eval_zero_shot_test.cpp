// Zero-shot scoring (sim/eval/zero_shot.h): lm-eval's continuation split on
// hand-made tokenizations, continuation log-likelihoods and greediness on
// hand-made logits, acc against acc_norm with ties, and the standard errors
// against hand computations.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "base/error.h"
#include "sim/eval/zero_shot.h"

using namespace sqsim;

namespace {

// Longest-match tokenizer over a fixed vocabulary (ids in list order), with an
// optional BOS id in front: small enough to tokenize by hand in the tests.
struct ToyTokenizer {
  std::vector<std::string> vocab;
  int32_t bos = -1;
  std::vector<int32_t> operator()(const std::string& text) const {
    std::vector<int32_t> ids;
    if (bos >= 0) ids.push_back(bos);
    for (size_t i = 0; i < text.size();) {
      size_t best_len = 0;
      int32_t best = -1;
      for (size_t v = 0; v < vocab.size(); ++v)
        if (vocab[v].size() > best_len && text.compare(i, vocab[v].size(), vocab[v]) == 0) {
          best_len = vocab[v].size();
          best = int32_t(v);
        }
      if (best < 0) throw Error("toy tokenizer: no token at '" + text.substr(i) + "'");
      ids.push_back(best);
      i += best_len;
    }
    return ids;
  }
};

//                               0      1       2      3        4       5      6     7       8
const ToyTokenizer kToy{{"<s>", "The", " cat", " sat", " ", "apult", " ca", "t", " on"}};

std::vector<int32_t> ids(std::initializer_list<int32_t> l) { return l; }

// A model whose logits for row t put `peak` on token (tokens[t] + 1) % V, 0 elsewhere.
class ShiftLm : public CausalLm {
 public:
  explicit ShiftLm(int vocab) : vocab_(vocab) {}
  std::string architecture() const override { return "shift"; }
  int vocab_size() const override { return vocab_; }
  int num_layers() const override { return 0; }
  MatrixF forward(const std::vector<int32_t>& tokens) const override {
    MatrixF out = MatrixF::Zero(long(tokens.size()), vocab_);
    for (size_t t = 0; t < tokens.size(); ++t) out(long(t), (tokens[t] + 1) % vocab_) = 2.0f;
    ++calls;
    return out;
  }
  std::vector<std::string> linear_names() const override { return {}; }
  const LinearLayer& linear(const std::string& n) const override { throw Error("no layer " + n); }
  std::unique_ptr<LinearLayer> replace_linear(const std::string& n, std::unique_ptr<LinearLayer>) override {
    throw Error("no layer " + n);
  }
  std::vector<SmoothGroup> smooth_groups() const override { return {}; }
  void divide_norm(const std::string& n, const VectorF&) override { throw Error("no norm " + n); }
  VectorF norm_weight(const std::string& n) const override { throw Error("no norm " + n); }
  mutable int calls = 0;

 private:
  int vocab_;
};

}  // namespace

TEST(EvalZeroShot, SplitLeadingSpace) {
  const SplitRequest s = split_request({"The cat", " sat"}, kToy);
  EXPECT_EQ(s.tokens, ids({1, 2, 3}));
  EXPECT_EQ(s.n_context, 2u);
}

TEST(EvalZeroShot, SplitContextEndingInSpace) {
  // "The cat " + "sat": the space moves to the continuation, so the same tokens as above.
  const SplitRequest s = split_request({"The cat ", "sat"}, kToy);
  EXPECT_EQ(s.tokens, ids({1, 2, 3}));
  EXPECT_EQ(s.n_context, 2u);
  // Two trailing spaces: both move; " " then " sat".
  const SplitRequest t = split_request({"The cat  ", "sat"}, kToy);
  EXPECT_EQ(t.tokens, ids({1, 2, 4, 3}));
  EXPECT_EQ(t.n_context, 2u);
}

TEST(EvalZeroShot, SplitMultiTokenChoice) {
  // " catapult" = " cat" + "apult": two continuation tokens.
  const SplitRequest s = split_request({"The cat", " catapult"}, kToy);
  EXPECT_EQ(s.tokens, ids({1, 2, 2, 5}));
  EXPECT_EQ(s.n_context, 2u);
}

TEST(EvalZeroShot, SplitAtTheContextsTokenCountNotItsTokens) {
  // The context "The ca" is [The][ ca]; with the continuation "t sat" the whole is
  // [The][ cat][ sat]: lm-eval splits at 2 tokens, so the continuation is [ sat] alone.
  const SplitRequest s = split_request({"The ca", "t sat"}, kToy);
  EXPECT_EQ(s.tokens, ids({1, 2, 3}));
  EXPECT_EQ(s.n_context, 2u);
}

TEST(EvalZeroShot, SplitChoiceEmptyAfterPreprocessing) {
  // Continuation " " + "": one token (the space).
  const SplitRequest s = split_request({"The cat", " "}, kToy);
  EXPECT_EQ(s.tokens, ids({1, 2, 4}));
  EXPECT_EQ(s.n_context, 2u);
  // No continuation at all: no tokens to score, log-likelihood 0, greedy.
  const SplitRequest e = split_request({"The cat", ""}, kToy);
  EXPECT_EQ(e.tokens.size(), e.n_context);
  ShiftLm lm(9);
  const ContinuationScore sc = score_request(lm, e);
  EXPECT_EQ(sc.loglik, 0.0);
  EXPECT_TRUE(sc.greedy);
  EXPECT_EQ(sc.tokens, 0u);
  EXPECT_EQ(lm.calls, 0);
}

TEST(EvalZeroShot, SplitWithBos) {
  ToyTokenizer bos = kToy;
  bos.bos = 0;
  const SplitRequest s = split_request({"The cat ", "sat"}, bos);
  EXPECT_EQ(s.tokens, ids({0, 1, 2, 3}));
  EXPECT_EQ(s.n_context, 3u);
  // An empty context: BOS alone is the context.
  const SplitRequest e = split_request({"", "The"}, bos);
  EXPECT_EQ(e.tokens, ids({0, 1}));
  EXPECT_EQ(e.n_context, 1u);
  // Without BOS an empty context has nothing to condition on.
  EXPECT_THROW(split_request({"", "The"}, kToy), Error);
}

TEST(EvalZeroShot, ScoreContinuationHandComputed) {
  // 3 tokens, vocabulary 3; continuation = tokens[1..2], scored from rows 0 and 1.
  MatrixF logits(3, 3);
  logits << 1.0f, 2.0f, 3.0f,  // row 0 predicts tokens[1] = 2 (the argmax)
      0.5f, 0.5f, 0.0f,        // row 1 predicts tokens[2] = 1 (tied with 0: argmax is 0)
      9.0f, 9.0f, 9.0f;        // row 2 unused
  const std::vector<int32_t> tokens = {0, 2, 1};
  const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double lse1 = std::log(2 * std::exp(0.5) + 1.0);
  ContinuationScore s = score_continuation(logits, tokens, 1);
  EXPECT_NEAR(s.loglik, (3.0 - lse0) + (0.5 - lse1), 1e-12);
  EXPECT_FALSE(s.greedy);  // token 1 ties token 0, and the first index wins
  EXPECT_EQ(s.tokens, 2u);
  s = score_continuation(logits, tokens, 2);
  EXPECT_NEAR(s.loglik, std::log(std::exp(0.5) / (2 * std::exp(0.5) + 1.0)), 1e-12);
  s = score_continuation(logits, {0, 2}, 1);
  EXPECT_TRUE(s.greedy);
  EXPECT_NEAR(s.loglik, std::log(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0))), 1e-12);
}

TEST(EvalZeroShot, AccAgainstAccNormWithTies) {
  ItemResult r;
  r.loglik = {-4.0, -6.0};
  r.choice_chars = {2, 4};  // normalized: -2 against -1.5
  r.gold = 0;
  EXPECT_TRUE(item_acc(r));
  EXPECT_FALSE(item_acc_norm(r));
  r.gold = 1;
  EXPECT_FALSE(item_acc(r));
  EXPECT_TRUE(item_acc_norm(r));
  // Ties: the first index wins, for both.
  r.loglik = {-3.0, -3.0, -6.0};
  r.choice_chars = {3, 3, 6};
  r.gold = 0;
  EXPECT_TRUE(item_acc(r));
  EXPECT_TRUE(item_acc_norm(r));  // -1, -1, -1: a three-way tie
  r.gold = 1;
  EXPECT_FALSE(item_acc(r));
  EXPECT_FALSE(item_acc_norm(r));
  r.gold = 2;
  EXPECT_FALSE(item_acc_norm(r));
  // An empty choice: numpy's -x / 0 = -inf loses; 0 / 0 = NaN wins the argmax.
  r.loglik = {-1.0, -2.0};
  r.choice_chars = {5, 0};
  r.gold = 0;
  EXPECT_TRUE(item_acc_norm(r));
  r.loglik = {-1.0, 0.0};
  r.gold = 1;
  EXPECT_TRUE(item_acc_norm(r));
  EXPECT_EQ(argmax_first({1.0, std::nan(""), 5.0}), 1u);
}

TEST(EvalZeroShot, StandardErrorsAgainstHandComputation) {
  // 0/1 outcomes 1,0,1,1: mean 0.75; sample variance ((3 * 0.0625 + 0.5625) / 3) = 0.25; stderr 0.5 / 2.
  MeanStderr m = mean_stderr({1, 0, 1, 1});
  EXPECT_DOUBLE_EQ(m.mean, 0.75);
  EXPECT_DOUBLE_EQ(m.stderr_, 0.25);
  // The binomial form lm-eval's values match: sqrt(p (1 - p) / (n - 1)).
  EXPECT_NEAR(m.stderr_, std::sqrt(0.75 * 0.25 / 3), 1e-15);
  m = mean_stderr({2.0, 4.0, 9.0});  // mean 5, deviations -3, -1, 4: ss 26, var 13
  EXPECT_DOUBLE_EQ(m.mean, 5.0);
  EXPECT_NEAR(m.stderr_, std::sqrt(13.0 / 3.0), 1e-14);
  EXPECT_EQ(mean_stderr({7.0}).stderr_, 0.0);
  // LAMBADA perplexity: exp(-mean loglik) and exp(-mean) * stderr.
  const MeanStderr p = perplexity_from_logliks({-1.0, -2.0, -3.0});
  EXPECT_NEAR(p.mean, std::exp(2.0), 1e-12);
  EXPECT_NEAR(p.stderr_, std::exp(2.0) * (1.0 / std::sqrt(3.0)), 1e-12);
}

TEST(EvalZeroShot, EvaluateItemAndScoreTask) {
  // ShiftLm predicts token + 1: after "The" (1) comes " cat" (2), then " sat" (3).
  ShiftLm lm(9);
  TaskItem item;
  item.index = 7;
  item.gold = 0;
  item.choices = {"cat sat", "on"};
  item.requests = {{"The", " cat sat"}, {"The", " on"}};
  const ItemResult r = evaluate_item(lm, kToy, item);
  EXPECT_EQ(r.index, 7u);
  EXPECT_EQ(r.choice_chars, (std::vector<size_t>{7, 2}));
  EXPECT_EQ(r.tokens, (std::vector<size_t>{2, 1}));
  const double hit = 2.0 - std::log(std::exp(2.0) + 8.0), miss = 0.0 - std::log(std::exp(2.0) + 8.0);
  EXPECT_NEAR(r.loglik[0], 2 * hit, 1e-6);
  EXPECT_NEAR(r.loglik[1], miss, 1e-6);
  EXPECT_EQ(r.greedy, (std::vector<bool>{true, false}));
  // acc: choice 0 (2 * hit = -1.47 > miss = -2.73); acc_norm: -1.47 / 7 = -0.21 > -2.73 / 2: choice 0 again.
  TaskConfig t;
  t.name = "toy";
  t.kind = TaskKind::kMultipleChoice;
  t.metrics = {"acc", "acc_norm"};
  ItemResult wrong = r;
  wrong.gold = 1;
  const TaskScores s = score_task(t, {r, wrong, r, r});
  ASSERT_EQ(s.metrics.size(), 2u);
  EXPECT_EQ(s.metrics[0].name, "acc");
  EXPECT_DOUBLE_EQ(s.metrics[0].value, 0.75);
  EXPECT_DOUBLE_EQ(s.metrics[0].stderr_, 0.25);
  EXPECT_DOUBLE_EQ(s.metrics[1].value, 0.75);
  // Last word: acc = greedy, perplexity from the log-likelihoods.
  TaskConfig lw;
  lw.kind = TaskKind::kLastWord;
  lw.metrics = {"acc", "perplexity"};
  ItemResult a, b;
  a.loglik = {-1.0};
  a.greedy = {true};
  b.loglik = {-3.0};
  b.greedy = {false};
  const TaskScores l = score_task(lw, {a, b});
  EXPECT_DOUBLE_EQ(l.metrics[0].value, 0.5);
  EXPECT_DOUBLE_EQ(l.metrics[0].stderr_, 0.5);  // sample std sqrt(0.5) / sqrt(2)
  EXPECT_NEAR(l.metrics[1].value, std::exp(2.0), 1e-12);
}

TEST(EvalZeroShot, EvaluateItemsReportsEachItemInOrder) {
  ShiftLm lm(9);
  std::vector<TaskItem> items(3);
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].index = 10 + i;
    items[i].gold = 0;
    items[i].choices = {"cat"};
    items[i].requests = {{"The", " cat"}};
  }
  std::vector<size_t> seen;
  auto record = [&](const ItemResult& x, size_t done, size_t n) {
    EXPECT_EQ(n, 3u);
    EXPECT_EQ(done, seen.size() + 1);
    seen.push_back(x.index);
  };
  const std::vector<ItemResult> r = evaluate_items(lm, kToy, items, record);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(seen, (std::vector<size_t>{10, 11, 12}));
  EXPECT_EQ(lm.calls, 3);
  // on_item may stop the run (as Ctrl-C does); what it was given stays given.
  seen.clear();
  EXPECT_THROW(evaluate_items(lm, kToy, items,
                              [&](const ItemResult& x, size_t done, size_t n) {
                                record(x, done, n);
                                if (done == 2) throw Error("stop");
                              }),
               Error);
  EXPECT_EQ(seen, (std::vector<size_t>{10, 11}));
}
