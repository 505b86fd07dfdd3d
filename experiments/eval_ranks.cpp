#include "experiments/eval_ranks.h"

#include "base/error.h"
#include "experiments/format.h"
#include "experiments/journal.h"
#include "experiments/work_split.h"

namespace sqsim::cli {

namespace {

// An ItemResult as fields and back, doubles exact (%.17g).
std::vector<std::string> result_fields(const ItemResult& r) {
  std::vector<std::string> f = {std::to_string(r.index), std::to_string(r.gold), std::to_string(r.loglik.size())};
  for (size_t i = 0; i < r.loglik.size(); ++i) {
    f.push_back(exact(r.loglik[i]));
    f.push_back(r.greedy[i] ? "1" : "0");
    f.push_back(std::to_string(r.tokens[i]));
  }
  f.push_back(std::to_string(r.choice_chars.size()));
  for (size_t c : r.choice_chars) f.push_back(std::to_string(c));
  return f;
}

ItemResult result_from_fields(const std::vector<std::string>& f, const std::string& where) {
  const auto number = [&](size_t i) {
    if (i >= f.size()) throw Error(where + ": a truncated item result");
    return parse_journal_number(f[i], where);
  };
  ItemResult r;
  r.index = size_t(number(0));
  r.gold = int(number(1));
  const size_t n = size_t(number(2));
  size_t at = 3;
  for (size_t i = 0; i < n; ++i, at += 3) {
    r.loglik.push_back(number(at));
    r.greedy.push_back(number(at + 1) != 0);
    r.tokens.push_back(size_t(number(at + 2)));
  }
  const size_t chars = size_t(number(at++));
  for (size_t i = 0; i < chars; ++i) r.choice_chars.push_back(size_t(number(at++)));
  return r;
}

}  // namespace

std::vector<std::vector<ItemResult>> evaluate_across_ranks(
    const Ranks& ranks, const CausalLm& model, const Encode& encode, const std::vector<std::vector<TaskItem>>& items,
    const std::function<void(size_t, const ItemResult&)>& on_item, size_t* gathered_bytes) {
  std::vector<double> costs;
  for (const auto& task : items) {
    for (const TaskItem& item : task) {
      double chars = 0;
      for (const Request& q : item.requests) chars += double(q.context.size() + q.continuation.size());
      costs.push_back(chars);
    }
  }
  const std::vector<int> owner = assign_longest_first(costs, ranks.size());
  std::vector<std::pair<std::string, std::vector<std::string>>> mine;
  std::vector<std::vector<ItemResult>> own(items.size());
  size_t flat = 0;
  for (size_t t = 0; t < items.size(); ++t) {
    std::vector<TaskItem> subset;
    std::vector<size_t> position;  // of each subset item in the task
    for (size_t i = 0; i < items[t].size(); ++i, ++flat) {
      if (owner[flat] != ranks.rank()) continue;
      subset.push_back(items[t][i]);
      position.push_back(i);
    }
    size_t k = 0;
    own[t] = evaluate_items(model, encode, subset, [&](const ItemResult& r, size_t, size_t) {
      mine.emplace_back(std::to_string(t) + " " + std::to_string(position[k++]), result_fields(r));
      if (on_item) on_item(t, r);
    });
  }
  const std::vector<std::string> parts = ranks.gather(pack_items(mine));
  if (!ranks.distributed()) return own;
  if (!ranks.root()) return {};
  std::vector<std::vector<ItemResult>> all(items.size());
  std::vector<std::vector<char>> have(items.size());
  for (size_t t = 0; t < items.size(); ++t) {
    all[t].resize(items[t].size());
    have[t].assign(items[t].size(), 0);
  }
  size_t bytes = 0;
  for (size_t r = 0; r < parts.size(); ++r) {
    if (r > 0) bytes += parts[r].size();
    for (const auto& [key, fields] : unpack_items(parts[r])) {
      const size_t space = key.find(' ');
      const size_t t = std::stoul(key.substr(0, space)), i = std::stoul(key.substr(space + 1));
      all[t][i] = result_from_fields(fields, "rank " + std::to_string(r) + ", item " + key);
      have[t][i] = 1;
    }
  }
  for (size_t t = 0; t < items.size(); ++t)
    for (size_t i = 0; i < items[t].size(); ++i)
      if (!have[t][i]) throw Error("eval: item " + std::to_string(i) + " of task " + std::to_string(t) + " came from no rank");
  if (gathered_bytes) *gathered_bytes = bytes;
  return all;
}

}  // namespace sqsim::cli
