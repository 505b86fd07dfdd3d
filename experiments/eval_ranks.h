#pragma once
// `sqsim eval`'s items split across the ranks of an MPI job (docs/mpi.md).
#include <functional>
#include <vector>

#include "experiments/ranks.h"
#include "sim/eval/task.h"
#include "sim/eval/zero_shot.h"

namespace sqsim::cli {

// Every task's items, each costed by the characters the model reads (each
// request's context and continuation) and assigned longest first
// (work_split.h); each rank scores its own with evaluate_items (packed as `options` and the
// model allow), in item order,
// calling on_item(task, result) after each; rank 0 gets every task's results
// in item order (what evaluate_items gives one process), the others {}.
// `gathered_bytes`, when given, gets the bytes rank 0 received.
//
// `known` (when given) returns the result of an item a journal already holds
// (null: to score); such items are assigned to no rank, and rank 0 takes them
// from `known` (every rank reads every journal: rank_journal.h).
using KnownItem = std::function<const ItemResult*(size_t task, size_t position)>;
std::vector<std::vector<ItemResult>> evaluate_across_ranks(
    const Ranks& ranks, const CausalLm& model, const Encode& encode, const std::vector<std::vector<TaskItem>>& items,
    const std::function<void(size_t task, size_t position, const ItemResult&)>& on_item,
    size_t* gathered_bytes = nullptr, const ZeroShotOptions& options = {}, const KnownItem& known = {});

}  // namespace sqsim::cli
