// The accuracy table of several presets: per-item accuracies, the average
// of tasks and the paired differences, against hand computations.
#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "experiments/accuracy_table.h"

namespace {

using namespace sqsim;
using namespace sqsim::cli;

// A two-choice item whose gold is 0: correct when loglik[0] > loglik[1].
ItemResult choice_item(bool correct) {
  ItemResult r;
  r.gold = 0;
  r.loglik = correct ? std::vector<double>{-1, -2} : std::vector<double>{-2, -1};
  r.greedy = {false, false};
  r.choice_chars = {3, 3};
  r.tokens = {1, 1};
  return r;
}
ItemResult last_word_item(bool greedy) {
  ItemResult r;
  r.loglik = {-1};
  r.greedy = {greedy};
  r.tokens = {1};
  return r;
}

TaskConfig task(const std::string& name, TaskKind kind) {
  TaskConfig t;
  t.name = name;
  t.kind = kind;
  return t;
}

TEST(AccuracyTable, ItemAccuraciesFollowTheTaskKind) {
  EXPECT_EQ(item_accuracies(task("mc", TaskKind::kMultipleChoice), {choice_item(true), choice_item(false)}),
            (std::vector<double>{1, 0}));
  EXPECT_EQ(item_accuracies(task("lw", TaskKind::kLastWord), {last_word_item(false), last_word_item(true)}),
            (std::vector<double>{0, 1}));
}

TEST(AccuracyTable, AverageOfTasksAddsVariances) {
  const MeanStderr a{0.5, 0.3, 10}, b{0.7, 0.4, 20};
  const MeanStderr m = average_of_tasks({a, b});
  EXPECT_DOUBLE_EQ(m.mean, 0.6);
  EXPECT_DOUBLE_EQ(m.stderr_, 0.25);  // sqrt(0.09 + 0.16) / 2
}

TEST(AccuracyTable, PairedDifferenceAndCells) {
  // Base: 1 1 0 0; other: 1 0 0 1 -> differences 0 -1 0 1: mean 0,
  // sample sd sqrt(2/3), stderr sqrt(2/3)/2 = 0.40825.
  const std::vector<TaskConfig> tasks = {task("mc", TaskKind::kMultipleChoice)};
  AccuracyRun base{"fp", "W: float; A: float", "-", {{choice_item(true), choice_item(true), choice_item(false),
                                                      choice_item(false)}}};
  AccuracyRun other{"w8a8", "W8A8", "-", {{choice_item(true), choice_item(false), choice_item(false),
                                           choice_item(true)}}};
  const ReportTable t = accuracy_table(tasks, {base, other});
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.header[3], "mc (4)");
  // acc 0.5, sample sd sqrt(1/3), stderr 0.288675 -> "50.00 ± 28.87"
  EXPECT_EQ(t.rows[0][3], "50.00 ± 28.87");
  EXPECT_EQ(t.rows[0].back(), "-");
  EXPECT_EQ(t.rows[1].back(), "+0.00 ± 40.82");
  const ReportTable d = accuracy_difference_table(tasks, {base, other});
  ASSERT_EQ(d.rows.size(), 1u);
  EXPECT_EQ(d.rows[0], (std::vector<std::string>{"w8a8", "+0.00 ± 40.82", "+0.00 ± 40.82"}));
}

TEST(AccuracyTable, RefusesRunsOverOtherItems) {
  const std::vector<TaskConfig> tasks = {task("mc", TaskKind::kMultipleChoice)};
  AccuracyRun base{"fp", "", "-", {{choice_item(true), choice_item(true)}}};
  AccuracyRun other{"w8a8", "", "-", {{choice_item(true)}}};
  try {
    accuracy_table(tasks, {base, other});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("w8a8 scored 1 items of mc, fp 2"), std::string::npos) << e.what();
  }
}

}  // namespace
