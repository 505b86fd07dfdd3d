// experiments/work_split.h: the assignment of items to MPI ranks is a pure,
// balanced function of the costs (no MPI needed to test it).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "base/error.h"
#include "experiments/work_split.h"

namespace {

using sqsim::cli::assign_contiguous;
using sqsim::cli::assign_longest_first;
using sqsim::cli::rank_loads;

double max_over_mean(const std::vector<double>& costs, const std::vector<int>& owner, int ranks) {
  const std::vector<double> load = rank_loads(costs, owner, ranks);
  const double mean = std::accumulate(load.begin(), load.end(), 0.0) / ranks;
  return *std::max_element(load.begin(), load.end()) / mean;
}

// The unit costs of a SmolLM2-135M sweep (a unit is a layer): per block
// q/k/v/o (576x576 and 576x192), gate/up (576->1536) and down (1536->576).
std::vector<double> smollm_like_costs(int blocks) {
  std::vector<double> c;
  for (int b = 0; b < blocks; ++b)
    for (double mkn : {576.0 * 576, 576.0 * 192, 576.0 * 192, 576.0 * 576, 576.0 * 1536, 576.0 * 1536, 1536.0 * 576})
      c.push_back(mkn);
  return c;
}

TEST(WorkSplit, LongestFirstKeepsEveryRankNearTheMean) {
  const std::vector<double> costs = smollm_like_costs(30);
  for (int ranks : {2, 3, 4, 8, 16, 64}) {
    const std::vector<int> owner = assign_longest_first(costs, ranks);
    EXPECT_LE(max_over_mean(costs, owner, ranks), 1.2) << ranks << " ranks";
    EXPECT_EQ(owner, assign_longest_first(costs, ranks)) << "not deterministic";
  }
}

TEST(WorkSplit, LongestFirstFillsTheLeastLoadedLowestRank) {
  // 5, 4, 3, 3 on two ranks: 5 -> 0, 4 -> 1, 3 -> 1 (4 < 5), 3 -> 0 (5 < 7).
  EXPECT_EQ(assign_longest_first({3, 5, 3, 4}, 2), (std::vector<int>{1, 0, 0, 1}));
  // Ties in cost go in item order; ties in load to the lower rank.
  EXPECT_EQ(assign_longest_first({1, 1, 1, 1}, 2), (std::vector<int>{0, 1, 0, 1}));
}

TEST(WorkSplit, ContiguousRunsOfEqualItemsDifferByAtMostOne) {
  for (size_t n : {1, 2, 7, 16, 33}) {
    for (int ranks : {1, 2, 3, 8}) {
      const std::vector<int> owner = assign_contiguous(std::vector<double>(n, 1.0), ranks);
      EXPECT_TRUE(std::is_sorted(owner.begin(), owner.end()));
      std::vector<size_t> count(size_t(ranks), 0);
      for (int r : owner) ++count[size_t(r)];
      const auto [lo, hi] = std::minmax_element(count.begin(), count.end());
      if (n >= size_t(ranks)) {
        EXPECT_LE(*hi - *lo, 1u) << n << " items, " << ranks << " ranks";
      }
    }
  }
  EXPECT_EQ(assign_contiguous(std::vector<double>(16, 1.0), 2),
            (std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}));
}

TEST(WorkSplit, MoreRanksThanItemsLeavesSomeIdle) {
  const std::vector<int> owner = assign_longest_first({2, 1}, 5);
  EXPECT_EQ(owner, (std::vector<int>{0, 1}));
  EXPECT_EQ(assign_contiguous({1, 1}, 5), (std::vector<int>{1, 3}));
  EXPECT_TRUE(assign_longest_first({}, 3).empty());
}

TEST(WorkSplit, RefusesNoRanksAndNegativeCosts) {
  EXPECT_THROW(assign_longest_first({1}, 0), sqsim::Error);
  EXPECT_THROW(assign_contiguous({-1}, 2), sqsim::Error);
}

}  // namespace
