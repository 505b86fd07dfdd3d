#include "experiments/eval_ranks.h"

#include "base/error.h"
#include "experiments/eval_journal.h"
#include "experiments/work_split.h"

namespace sqsim::cli {

std::vector<std::vector<ItemResult>> evaluate_across_ranks(
    const Ranks& ranks, const CausalLm& model, const Encode& encode, const std::vector<std::vector<TaskItem>>& items,
    const std::function<void(size_t, const ItemResult&)>& on_item, size_t* gathered_bytes,
    const ZeroShotOptions& options) {
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
      mine.emplace_back(std::to_string(t) + " " + std::to_string(position[k++]), eval_item_fields(r));
      if (on_item) on_item(t, r);
    }, options);
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
