#include "experiments/accuracy_table.h"

#include <cmath>
#include <cstdio>

#include "base/error.h"
#include "base/str.h"
#include "sim/eval/kl_divergence.h"

namespace sqsim::cli {

namespace {

// "45.20 ± 0.69": percent, two decimals; a signed one for differences.
std::string percent_cell(const MeanStderr& m, bool sign) {
  char b[64];
  std::snprintf(b, sizeof b, sign ? "%+.2f ± %.2f" : "%.2f ± %.2f", 100 * m.mean, 100 * m.stderr_);
  return b;
}

void check_same_items(const std::vector<TaskConfig>& tasks, const std::vector<AccuracyRun>& runs) {
  if (runs.empty()) throw Error("accuracy table: no runs");
  for (const AccuracyRun& r : runs) {
    if (r.results.size() != tasks.size())
      throw Error(str("accuracy table: ", r.preset, " has results for ", r.results.size(), " tasks, expected ",
                      tasks.size()));
    for (size_t t = 0; t < tasks.size(); ++t)
      if (r.results[t].size() != runs[0].results[t].size())
        throw Error(str("accuracy table: ", r.preset, " scored ", r.results[t].size(), " items of ", tasks[t].name,
                        ", ", runs[0].preset, " ", runs[0].results[t].size(), ": paired differences need the same "
                        "items"));
  }
}

// Per task, the paired difference of run `r` from runs[0].
std::vector<MeanStderr> differences(const std::vector<TaskConfig>& tasks, const std::vector<AccuracyRun>& runs,
                                    size_t r) {
  std::vector<MeanStderr> out;
  for (size_t t = 0; t < tasks.size(); ++t)
    out.push_back(paired_difference(item_accuracies(tasks[t], runs[r].results[t]),
                                    item_accuracies(tasks[t], runs[0].results[t])));
  return out;
}

}  // namespace

std::vector<double> item_accuracies(const TaskConfig& task, const std::vector<ItemResult>& results) {
  std::vector<double> out;
  out.reserve(results.size());
  for (const ItemResult& r : results)
    out.push_back(task.kind == TaskKind::kLastWord ? double(r.greedy.at(0)) : double(item_acc(r)));
  return out;
}

MeanStderr average_of_tasks(const std::vector<MeanStderr>& per_task) {
  MeanStderr out;
  if (per_task.empty()) return out;
  double var = 0;
  for (const MeanStderr& m : per_task) {
    out.mean += m.mean;
    var += m.stderr_ * m.stderr_;
    out.n += m.n;
  }
  const double t = double(per_task.size());
  out.mean /= t;
  out.stderr_ = std::sqrt(var) / t;
  return out;
}

std::vector<std::string> accuracy_summary_cells(const std::vector<TaskConfig>& tasks,
                                                const std::vector<AccuracyRun>& runs, size_t r) {
  check_same_items(tasks, runs);
  std::vector<MeanStderr> acc;
  for (size_t t = 0; t < tasks.size(); ++t) acc.push_back(mean_stderr(item_accuracies(tasks[t], runs[r].results[t])));
  return {percent_cell(average_of_tasks(acc), false),
          r == 0 ? "-" : percent_cell(average_of_tasks(differences(tasks, runs, r)), true)};
}

ReportTable accuracy_table(const std::vector<TaskConfig>& tasks, const std::vector<AccuracyRun>& runs) {
  check_same_items(tasks, runs);
  ReportTable rt;
  rt.title = "Zero-shot accuracy by quantization preset";
  rt.caption = str(
      "Accuracy (%, higher is better; lm-evaluation-harness's acc, docs/tasks.md) ± its standard error (sample "
      "standard deviation of the per-item 0/1 scores over sqrt(n)). average: the mean of the tasks' accuracies, ± "
      "sqrt(sum of their squared standard errors) / tasks. Δ average: the paired difference from ",
      runs[0].preset,
      " on the same items (per task the mean and standard error of the per-item differences, averaged over the "
      "tasks the same way; docs/statistics.md).");
  rt.header = {"preset", "weights / activations", "alpha"};
  for (const TaskConfig& t : tasks) rt.header.push_back(str(t.name, " (", runs[0].results[&t - &tasks[0]].size(), ")"));
  rt.header.push_back("average");
  rt.header.push_back("Δ average vs " + runs[0].preset);
  for (size_t r = 0; r < runs.size(); ++r) {
    std::vector<std::string> row = {runs[r].preset, runs[r].describe, runs[r].alpha};
    for (size_t t = 0; t < tasks.size(); ++t)
      row.push_back(percent_cell(mean_stderr(item_accuracies(tasks[t], runs[r].results[t])), false));
    for (const std::string& cell : accuracy_summary_cells(tasks, runs, r)) row.push_back(cell);
    rt.rows.push_back(row);
  }
  return rt;
}

ReportTable accuracy_difference_table(const std::vector<TaskConfig>& tasks, const std::vector<AccuracyRun>& runs) {
  check_same_items(tasks, runs);
  ReportTable rt;
  rt.title = "Paired accuracy differences from " + runs[0].preset;
  rt.caption = "Accuracy of each preset minus " + runs[0].preset +
               "'s on the same items (percentage points) ± the standard error of the per-item differences; a "
               "difference within about two standard errors of 0 is not distinguishable from noise.";
  rt.header = {"preset"};
  for (const TaskConfig& t : tasks) rt.header.push_back(t.name);
  rt.header.push_back("average");
  for (size_t r = 1; r < runs.size(); ++r) {
    const std::vector<MeanStderr> d = differences(tasks, runs, r);
    std::vector<std::string> row = {runs[r].preset};
    for (const MeanStderr& m : d) row.push_back(percent_cell(m, true));
    row.push_back(percent_cell(average_of_tasks(d), true));
    rt.rows.push_back(row);
  }
  return rt;
}

}  // namespace sqsim::cli
