#pragma once
// Zero-shot evaluation of one quantization preset on a list of tasks, as
// `sqsim eval` runs it and `sqsim paper-tables` reuses it for its accuracy
// columns: the preset prepared (α chosen, calibrated, quantized), every item
// scored (docs/tasks.md) or read back from the preset's journal, each task's
// scores printed. Under mpirun the items are split across the ranks
// (docs/mpi.md).
#include <string>
#include <vector>

#include "experiments/quant_eval.h"
#include "experiments/ranks.h"
#include "sim/eval/task.h"
#include "sim/eval/zero_shot.h"

namespace sqsim::cli {

// A shipped task's config (experiments/configs/tasks/NAME.task), or `name`
// as a path when it holds '/' or '.'; errors name --tasks and list the shipped ones.
std::string task_config_path(const std::string& name);
// The tasks of a comma list and their first `limit` items (0 = all), each
// read and checked (one-line errors naming file and line).
void load_eval_tasks(const std::string& names, long limit, std::vector<TaskConfig>* tasks,
                     std::vector<std::vector<TaskItem>>* items);

// What one preset's run shares with the others: the tasks, their items, the
// float model and its calibration, the output settings.
struct EvalContext {
  const Ranks& ranks;
  const std::vector<TaskConfig>& tasks;
  const std::vector<std::vector<TaskItem>>& items;
  QuantEvaluator& ev;
  const ZeroShotOptions& zo;
  bool json = false;
  std::string alpha, alpha_grid;
  bool resume = false;
};

// One preset on every task: journaled into `dir` (none when empty) under
// `settings`; prints each task's scores. Returns the items' results per task
// (empty on ranks other than 0) and the α it ran at in `alpha_text`.
std::vector<std::vector<ItemResult>> eval_preset(const EvalContext& cx, const ModelQuantConfig& config,
                                                 const std::string& dir, const std::string& settings,
                                                 std::string* alpha_text);

}  // namespace sqsim::cli
