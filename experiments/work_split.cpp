#include "experiments/work_split.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace sqsim::cli {

namespace {

void check(const std::vector<double>& costs, int ranks) {
  if (ranks < 1) throw Error("work split: need at least one rank, got " + std::to_string(ranks));
  for (double c : costs)
    if (!(c >= 0)) throw Error("work split: item costs must be non-negative numbers");
}

}  // namespace

std::vector<int> assign_longest_first(const std::vector<double>& costs, int ranks) {
  check(costs, ranks);
  std::vector<size_t> order(costs.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(size_t(ranks), 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (size_t i : order) {
    const int r = int(std::min_element(load.begin(), load.end()) - load.begin());  // first of the least loaded
    owner[i] = r;
    load[size_t(r)] += costs[i];
  }
  return owner;
}

std::vector<int> assign_contiguous(const std::vector<double>& costs, int ranks) {
  check(costs, ranks);
  const double total = std::accumulate(costs.begin(), costs.end(), 0.0);
  std::vector<int> owner(costs.size(), 0);
  double before = 0;
  for (size_t i = 0; i < costs.size(); ++i) {
    // The rank whose share [r, r+1) * total / ranks holds the item's midpoint.
    const double mid = before + costs[i] / 2;
    owner[i] = total > 0 ? std::min(ranks - 1, int(mid * ranks / total)) : int(i * size_t(ranks) / costs.size());
    before += costs[i];
  }
  return owner;
}

std::vector<double> rank_loads(const std::vector<double>& costs, const std::vector<int>& owner, int ranks) {
  std::vector<double> load(size_t(ranks), 0.0);
  for (size_t i = 0; i < costs.size(); ++i) load[size_t(owner[i])] += costs[i];
  return load;
}

}  // namespace sqsim::cli
