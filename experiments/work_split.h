#pragma once
// Which rank of an MPI job does which item (docs/mpi.md). Pure functions of
// the item costs and the rank count, so every rank computes the same
// assignment on its own and no rank ever has to be told its share.
#include <vector>

namespace sqsim::cli {

// Longest processing time first: items in decreasing cost (ties: lower index
// first), each to the rank with the least cost so far (ties: lower rank). For
// items whose costs vary (sweep layers), the largest load is at most 4/3 of the
// optimum, and within one item's cost of the mean. Returns the owner of each item.
std::vector<int> assign_longest_first(const std::vector<double>& costs, int ranks);

// Contiguous runs in item order, cut where the running cost passes r/ranks of
// the total: for items that share expensive setup with their neighbours
// (perplexity windows of one model), each rank builds as few models as it can.
// With equal costs the counts differ by at most one. Returns the owner of each item.
std::vector<int> assign_contiguous(const std::vector<double>& costs, int ranks);

// Per rank, the sum of the costs of its items.
std::vector<double> rank_loads(const std::vector<double>& costs, const std::vector<int>& owner, int ranks);

}  // namespace sqsim::cli
