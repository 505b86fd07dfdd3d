#pragma once
// The zero-shot accuracy of several quantization presets side by side (the
// SmoothQuant paper's Table 1 layout: one row per preset, one column per task
// and their average), with each accuracy's standard error and the paired
// difference from the first preset: the same items scored by two models, so
// the standard error of the difference is that of the per-item differences
// (docs/statistics.md, "Paired comparisons"), far smaller than either
// accuracy's own.
#include <string>
#include <vector>

#include "experiments/report_table.h"
#include "sim/eval/stats.h"
#include "sim/eval/task.h"
#include "sim/eval/zero_shot.h"

namespace sqsim::cli {

// One preset's results on every task (results[t] for tasks[t]).
struct AccuracyRun {
  std::string preset;
  std::string describe;  // ModelQuantConfig::describe()
  std::string alpha = "-";
  std::vector<std::vector<ItemResult>> results;
};

// Per item 1 or 0: the task's acc (LAMBADA: every continuation token greedy;
// multiple choice: the gold choice has the highest log-likelihood).
std::vector<double> item_accuracies(const TaskConfig& task, const std::vector<ItemResult>& results);

// The mean of several tasks' accuracies, each with its standard error: the
// tasks are independent samples, so the average's standard error is
// sqrt(sum se_t^2) / T.
MeanStderr average_of_tasks(const std::vector<MeanStderr>& per_task);

// Run r's last two cells of the Table 1 layout: the average of the tasks'
// accuracies (%) ± stderr, and its paired difference from runs[0] ("-" for r = 0).
std::vector<std::string> accuracy_summary_cells(const std::vector<TaskConfig>& tasks,
                                                const std::vector<AccuracyRun>& runs, size_t r);

// Table 1 layout: preset, weights / activations, alpha, each task's acc (%)
// ± stderr, the average, and the paired difference of the average from
// runs[0]. Throws sqsim::Error when a run's item counts differ from runs[0]'s.
ReportTable accuracy_table(const std::vector<TaskConfig>& tasks, const std::vector<AccuracyRun>& runs);
// Each later run's paired difference from runs[0], per task and on average.
ReportTable accuracy_difference_table(const std::vector<TaskConfig>& tasks, const std::vector<AccuracyRun>& runs);

}  // namespace sqsim::cli
