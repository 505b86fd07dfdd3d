// `sqsim eval` end to end: bad tasks refused before the model loads, and a
// short real run (skipped without the model) on a shipped task and on a task
// written at test time, which needs no recompilation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "real_data.h"
#include "run_sqsim.h"

namespace {
std::string piqa_data() { return sqsim::data_dir() + "/tasks/piqa/valid.jsonl"; }
}  // namespace

TEST(EvalCli, UnknownTaskIsAOneLineError) {
  const CliRun r = run("eval --tasks piqa,no_such_task --model /nonexistent.gguf");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--tasks: no task 'no_such_task'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shipped: arc_easy, boolq, hellaswag, lambada_openai, piqa, winogrande"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "not one line: " << r.out;
  EXPECT_EQ(r.out.find("nonexistent.gguf"), std::string::npos) << "the model was opened before the tasks were checked";
}

TEST(EvalCli, BadItemNamesFileAndLine) {
  const std::string dir = ::testing::TempDir() + "eval_cli_" + std::to_string(getpid());
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  std::ofstream(dir + "/d.jsonl") << R"({"q": "a", "c": ["x", "y"], "g": 0})" "\n" R"({"q": "b", "c": ["x"], "g": 3})" "\n";
  std::ofstream(dir + "/t.task") << R"({"kind": "multiple_choice", "data": ")" << dir
                                 << R"(/d.jsonl", "context": "{q}", "choice_list": "c", "gold": "g", "metrics": ["acc"]})";
  const CliRun r = run("eval --tasks " + dir + "/t.task --model /nonexistent.gguf");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("d.jsonl:2: field 'g' (gold) index 3 is out of range for 1 choices"), std::string::npos)
      << r.out;
}

TEST(EvalCliReal, ShippedAndAdHocTaskOnTheFloatModel) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(piqa_data()))
    GTEST_SKIP() << "needs the model and the PIQA data";
  // A new task is a file: PIQA's first items asked the other way round.
  const std::string dir = ::testing::TempDir() + "eval_cli_real_" + std::to_string(getpid());
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  std::ofstream(dir + "/piqa_swapped.task")
      << R"({"name": "piqa_swapped", "kind": "multiple_choice", "data": "tasks/piqa/valid.jsonl",
             "labels": "tasks/piqa/valid-labels.lst", "labels_field": "label",
             "context": "Goal: {goal}\nSolution:", "choices": ["{sol2}", "{sol1}"], "gold": "label",
             "gold_map": {"0": 1, "1": 0}, "metrics": ["acc", "acc_norm"]})";
  const CliRun r = run("eval --tasks piqa," + dir + "/piqa_swapped.task --limit 3 --json --threads 2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(R"({"task": "piqa", "quant": "fp", "alpha": "-", "items": 3, "metrics": {"acc": {"value": )"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(R"({"task": "piqa_swapped", "quant": "fp", "alpha": "-", "items": 3)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("piqa: 3/3 items"), std::string::npos) << r.out;  // progress on stderr
}
