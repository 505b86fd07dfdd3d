#include "experiments/eval_ranks.h"

#include "base/error.h"
#include "experiments/eval_journal.h"
#include "experiments/work_split.h"

namespace sqsim::cli {

std::vector<std::vector<ItemResult>> evaluate_across_ranks(
    const Ranks& ranks, const CausalLm& model, const Encode& encode, const std::vector<std::vector<TaskItem>>& items,
    const std::function<void(size_t, size_t, const ItemResult&)>& on_item, size_t* gathered_bytes,
    const ZeroShotOptions& options, const KnownItem& known) {
  // Journaled items cost nothing and are scored by no rank (owner -1).
  std::vector<double> costs, todo_costs;
  std::vector<size_t> todo_flat;
  for (size_t t = 0; t < items.size(); ++t) {
    for (size_t i = 0; i < items[t].size(); ++i) {
      double chars = 0;
      for (const Request& q : items[t][i].requests) chars += double(q.context.size() + q.continuation.size());
      if (!known || !known(t, i)) {
        todo_flat.push_back(costs.size());
        todo_costs.push_back(chars);
      }
      costs.push_back(chars);
    }
  }
  std::vector<int> owner(costs.size(), -1);
  const std::vector<int> todo_owner = assign_longest_first(todo_costs, ranks.size());
  for (size_t k = 0; k < todo_flat.size(); ++k) owner[todo_flat[k]] = todo_owner[k];
  std::vector<std::pair<std::string, std::vector<std::string>>> mine;
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
    evaluate_items(model, encode, subset, [&](const ItemResult& r, size_t, size_t) {
      const size_t p = position[k++];
      mine.emplace_back(std::to_string(t) + " " + std::to_string(p), eval_item_fields(r));
      if (on_item) on_item(t, p, r);
    }, options);
  }
  const std::vector<std::string> parts = ranks.gather(pack_items(mine));
  if (!ranks.root()) return {};
  std::vector<std::vector<ItemResult>> all(items.size());
  std::vector<std::vector<char>> have(items.size());
  for (size_t t = 0; t < items.size(); ++t) {
    all[t].resize(items[t].size());
    have[t].assign(items[t].size(), 0);
  }
  if (known)
    for (size_t t = 0; t < items.size(); ++t)
      for (size_t i = 0; i < items[t].size(); ++i)
        if (const ItemResult* j = known(t, i)) {
          all[t][i] = *j;
          have[t][i] = 1;
        }
  size_t bytes = 0;
  for (size_t r = 0; r < parts.size(); ++r) {
    if (r > 0) bytes += parts[r].size();
    for (const auto& [key, fields] : unpack_items(parts[r])) {
      const size_t space = key.find(' ');
      const size_t t = std::stoul(key.substr(0, space)), i = std::stoul(key.substr(space + 1));
      all[t][i] = eval_item_from_fields(fields, "rank " + std::to_string(r) + ", item " + key);
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
