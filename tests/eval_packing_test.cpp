// Packed forwards (CausalLm::forward_windows) and packed zero-shot scoring
// give every request the bits of its own one-request forward, on small
// synthetic Llama and OPT models and on SmolLM2 (skipped without it), for the
// float model, a per-token preset and W4A16; a per-tensor dynamic preset is
// not packed (docs/tasks.md, "Speed").
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

#include "quant/model_quant_config.h"
#include "sim/eval/quantize_model.h"
#include "sim/eval/task.h"
#include "sim/eval/zero_shot.h"
#include "sim/models/llama_model.h"
#include "sim/models/load_model.h"
#include "sim/models/opt_model.h"
#include "tests/real_data.h"
#include "tests/random_weights.h"

using namespace sqsim;

namespace {

sqsim::WeightSource random_weights() { return sqsim_test::random_weights(0.1f, 0.3f); }

LlamaModel small_llama() {
  LlamaConfig c;
  c.n_layers = 2;
  c.hidden = 32;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn = 48;
  c.vocab = 40;
  c.validate("small llama");
  return LlamaModel::from_weights(c, random_weights());
}

OptModel small_opt() {
  OptConfig c;
  c.n_layers = 2;
  c.hidden = 32;
  c.n_heads = 4;
  c.ffn = 48;
  c.vocab = 40;
  c.max_positions = 256;
  c.validate("small opt");
  return OptModel::from_weights(c, random_weights());
}

// Windows of several lengths, one longer than attention's query block (128),
// and windows continuing others (prefix): one past the block's end, one
// crossing it, two continuing the same window.
std::vector<CausalLm::Window> some_windows(int vocab, bool prefixes) {
  std::mt19937 rng(7);
  std::vector<CausalLm::Window> w;
  const std::pair<long, long> shapes[] = {{5, -1}, {1, -1}, {37, -1}, {150, -1}, {12, -1},
                                          {20, 3},  {1, 2},  {140, 2}, {9, 2}};
  for (const auto& [n, prefix] : shapes) {
    if (prefix >= 0 && !prefixes) continue;
    CausalLm::Window x;
    for (long t = 0; t < n; ++t) x.tokens.push_back(int32_t(rng() % unsigned(vocab)));
    x.first_logit_row = n / 3;
    x.prefix = prefix;
    w.push_back(x);
  }
  return w;
}

// forward_windows of all windows at once, row for row equal to each
// window's own forward() (of its prefix's tokens and its own).
void expect_packed_equals_single(const CausalLm& m, bool prefixes = true) {
  const std::vector<CausalLm::Window> windows = some_windows(m.vocab_size(), prefixes);
  const MatrixF packed = m.forward_windows(windows);
  long row = 0;
  for (const CausalLm::Window& w : windows) {
    std::vector<int32_t> tokens = w.prefix >= 0 ? windows[size_t(w.prefix)].tokens : std::vector<int32_t>();
    tokens.insert(tokens.end(), w.tokens.begin(), w.tokens.end());
    const MatrixF single = m.forward(tokens);
    const long n = long(w.tokens.size()) - w.first_logit_row;
    ASSERT_LE(row + n, packed.rows());
    EXPECT_TRUE(packed.middleRows(row, n) == single.bottomRows(n)) << "window of " << w.tokens.size() << " tokens";
    row += n;
  }
  EXPECT_EQ(row, packed.rows());
}

// Text -> ids for the synthetic models: a BOS (0), then one id per byte.
std::vector<int32_t> byte_ids(const std::string& text, int vocab) {
  std::vector<int32_t> ids = {0};
  for (unsigned char c : text) ids.push_back(int32_t(1 + c % unsigned(vocab - 1)));
  return ids;
}

std::vector<TaskItem> toy_items() {
  std::vector<TaskItem> items;
  const char* contexts[] = {"A man is", "She opened the", "", "x", "The quick brown fox jumps over the lazy"};
  for (size_t i = 0; i < 5; ++i) {
    TaskItem it;
    it.index = i;
    it.gold = int(i % 3);
    // a one-token continuation (" "), an empty one, and longer ones
    it.choices = {"door", "", "window wide", "a very long choice that spans many tokens of the window"};
    for (const std::string& c : it.choices) it.requests.push_back({contexts[i], c.empty() ? c : " " + c});
    items.push_back(it);
  }
  // contexts that differ (WinoGrande's partial scoring): no sharing
  TaskItem partial;
  partial.index = 5;
  partial.gold = 1;
  partial.choices = {"Ann", "Bob"};
  partial.requests = {{"Ann went home", " because she was tired"}, {"Bob went home", " because she was tired"}};
  items.push_back(partial);
  return items;
}

void expect_same_results(const std::vector<ItemResult>& a, const std::vector<ItemResult>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, b[i].index);
    EXPECT_EQ(a[i].loglik, b[i].loglik) << "item " << i;  // doubles compared exactly
    EXPECT_EQ(a[i].greedy, b[i].greedy) << "item " << i;
    EXPECT_EQ(a[i].tokens, b[i].tokens) << "item " << i;
    EXPECT_EQ(a[i].choice_chars, b[i].choice_chars) << "item " << i;
  }
}

// evaluate_items packed (small packs and one big one, contexts shared or
// not) against one request per forward.
void expect_packed_scoring_equals_single(const CausalLm& m, const Encode& encode,
                                         const std::vector<TaskItem>& items) {
  ASSERT_TRUE(packs_requests(m, {}));
  ASSERT_TRUE(m.shares_prefixes());
  const std::vector<ItemResult> single = evaluate_items(m, encode, items, {}, ZeroShotOptions{0});
  expect_same_results(evaluate_items(m, encode, items, {}, ZeroShotOptions{64, true}), single);
  expect_same_results(evaluate_items(m, encode, items, {}, ZeroShotOptions{100000, true}), single);
  expect_same_results(evaluate_items(m, encode, items, {}, ZeroShotOptions{512, false}), single);
}

}  // namespace

TEST(EvalPacking, LlamaWindowsGetTheirOwnForwardsBits) {
  const LlamaModel m = small_llama();
  expect_packed_equals_single(m);
}

TEST(EvalPacking, OptWindowsGetTheirOwnForwardsBits) {
  const OptModel m = small_opt();
  expect_packed_equals_single(m);
}

TEST(EvalPacking, PerTokenPresetPacksWithTheSameBits) {
  LlamaModel m = small_llama();
  quantize_model(m, preset_config("zeroquant"), nullptr);
  ASSERT_TRUE(m.rows_independent());
  expect_packed_equals_single(m);
}

TEST(EvalPacking, AttentionHooksStopPrefixSharingNotPacking) {
  LlamaModel m = small_llama();
  EXPECT_TRUE(m.shares_prefixes());
  m.attention_matmuls.projections = [](int, MatrixF&, MatrixF&, MatrixF&, int) {};
  EXPECT_TRUE(m.rows_independent());
  EXPECT_FALSE(m.shares_prefixes());
  expect_packed_equals_single(m, /*prefixes=*/false);
}

TEST(EvalPacking, PackedScoringEqualsOneRequestPerForward) {
  const LlamaModel m = small_llama();
  const Encode encode = [&](const std::string& s) { return byte_ids(s, m.vocab_size()); };
  expect_packed_scoring_equals_single(m, encode, toy_items());
}

TEST(EvalPacking, PerTensorDynamicPresetRunsOneRequestPerForward) {
  LlamaModel m = small_llama();
  quantize_model(m, preset_config("w8a8"), nullptr);
  EXPECT_FALSE(m.rows_independent());
  EXPECT_FALSE(packs_requests(m, {}));
  EXPECT_FALSE(packs_requests(small_llama(), ZeroShotOptions{0}));
  EXPECT_TRUE(packs_requests(small_llama(), {}));
  // The scores are the one-request path's (evaluate_items takes it).
  const Encode encode = [&](const std::string& s) { return byte_ids(s, m.vocab_size()); };
  const std::vector<TaskItem> items = toy_items();
  std::vector<ItemResult> single;
  for (const TaskItem& it : items) single.push_back(evaluate_item(m, encode, it));
  expect_same_results(evaluate_items(m, encode, items), single);
}

// SmolLM2 on the first items of HellaSwag (4 endings after one context) and
// LAMBADA: float, per-token int8 (zeroquant) and W4A16 weights.
TEST(EvalPackingReal, PackedScoringEqualsOneRequestPerForwardOnSmolLM2) {
  const std::string tasks = std::string(SQSIM_SOURCE_DIR) + "/experiments/configs/tasks/";
  if (!sqsim_test::exists(sqsim_test::kModel) ||
      !sqsim_test::exists(data_dir() + "/tasks/hellaswag/hellaswag_val.jsonl"))
    GTEST_SKIP() << "needs the model and the HellaSwag data";
  std::vector<TaskItem> items = load_task_items(load_task(tasks + "hellaswag.task"), 6);
  for (const TaskItem& it : load_task_items(load_task(tasks + "lambada_openai.task"), 4)) items.push_back(it);
  for (const char* preset : {"fp", "zeroquant", "w4a16-g128"}) {
    SCOPED_TRACE(preset);
    LoadedModel m = load_model(sqsim_test::kModel);
    if (std::string(preset) != "fp") quantize_model(*m.model, preset_config(preset), nullptr);
    const Encode encode = [&](const std::string& s) { return tokenize_document(m, s); };
    expect_packed_scoring_equals_single(*m.model, encode, items);
  }
}
