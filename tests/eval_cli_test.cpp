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

namespace {

// stdout of an eval run with the "seconds" of each JSON line left out.
std::string scores_of(const std::string& args, int* status) {
  const CliRun r = run_command("(" + std::string(SQSIM_BINARY) + " " + args + " 2>/dev/null)");
  *status = r.status;
  std::string out;
  size_t at = 0;
  for (size_t s = r.out.find(", \"seconds\": "); s != std::string::npos; s = r.out.find(", \"seconds\": ", at)) {
    out += r.out.substr(at, s - at);
    at = r.out.find('}', s);
  }
  return out + r.out.substr(at);
}

}  // namespace

// A run cut after some items (the journal as Ctrl-C leaves it, plus a line
// half written by a kill) and resumed gives the uninterrupted run's scores
// and journal; other packing changes nothing; other settings are refused.
TEST(EvalCliReal, ResumeFromTheJournalGivesTheUninterruptedRun) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(piqa_data()))
    GTEST_SKIP() << "needs the model and the PIQA data";
  const std::string dir = ::testing::TempDir() + "eval_resume_" + std::to_string(getpid());
  ASSERT_EQ(system(("rm -rf " + dir + " && mkdir -p " + dir + "/cut").c_str()), 0);
  const std::string args = "eval --tasks piqa,winogrande --limit 5 --json --threads 2";
  int status = 0;
  const std::string whole = scores_of(args + " --out " + dir + "/whole", &status);
  ASSERT_EQ(status, 0) << whole;
  EXPECT_NE(whole.find(R"("task": "winogrande")"), std::string::npos) << whole;
  const std::string journal = slurp(dir + "/whole/journal.txt");

  // The header, piqa's items 0..2, and half of item 3's line.
  size_t cut = journal.find("\npiqa 3\t");
  ASSERT_NE(cut, std::string::npos) << journal;
  std::ofstream(dir + "/cut/journal.txt") << journal.substr(0, cut + 12);
  const CliRun resumed = run(args + " --out " + dir + "/cut --resume --pack-rows 64");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("piqa: 3 items from the journal, 2 to score"), std::string::npos) << resumed.out;
  EXPECT_EQ(scores_of(args + " --out " + dir + "/cut --resume", &status), whole);  // all from the journal now
  EXPECT_EQ(status, 0);
  EXPECT_EQ(slurp(dir + "/cut/journal.txt"), journal);

  const CliRun other = run("eval --tasks piqa,winogrande --limit 4 --json --threads 2 --out " + dir + "/cut --resume");
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.out.find("records other settings than this run's ('limit=5' where this run has 'limit=4')"),
            std::string::npos)
      << other.out;
  EXPECT_EQ(slurp(dir + "/cut/journal.txt"), journal) << "a refused resume must not touch the journal";
  const CliRun fresh = run(args + " --out " + dir + "/cut");
  EXPECT_NE(fresh.status, 0) << "an existing journal is kept unless --resume or --force";
  ASSERT_EQ(system(("rm -rf " + dir).c_str()), 0);
}

// A preset whose activation scales are taken over the whole batch is not
// packed, and the run says so.
TEST(EvalCliReal, PerTensorDynamicPresetSaysItRunsOneRequestPerForward) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(piqa_data()))
    GTEST_SKIP() << "needs the model and the PIQA data";
  CliRun r = run("eval --tasks piqa --limit 2 --quant w8a8 --threads 2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("eval: w8a8: a layer's result depends on the whole batch"), std::string::npos) << r.out;
  r = run("eval --tasks piqa --limit 2 --quant zeroquant --threads 2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("depends on the whole batch"), std::string::npos) << r.out;
}

// SIGINT in the middle of a run: exit status 130, the items finished before
// the signal stay journaled, and --resume completes the same journal and
// scores as an uninterrupted run.
TEST(EvalCliReal, SigintKeepsTheJournalAndResumeFinishes) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(piqa_data()))
    GTEST_SKIP() << "needs the model and the PIQA data";
  const std::string dir = ::testing::TempDir() + "eval_sigint_" + std::to_string(getpid());
  ASSERT_EQ(system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()), 0);
  const std::string args = "eval --tasks piqa --limit 30 --json --threads 2 --pack-rows 1";
  int status = 0;
  const std::string whole = scores_of(args + " --out " + dir + "/whole", &status);
  ASSERT_EQ(status, 0) << whole;
  // Stopped once item 2 is journaled (one item per forward: --pack-rows 1).
  const std::string cut = dir + "/cut", rc = dir + "/rc";
  const std::string cmd = std::string(SQSIM_BINARY) + " " + args + " --out " + cut + " >/dev/null 2>&1 & pid=$!; " +
                          "for i in $(seq 3000); do grep -q \"^piqa 2\t\" " + cut +
                          "/journal.txt 2>/dev/null && break; sleep 0.01; done; kill -INT $pid; wait $pid; echo $? > " + rc;
  ASSERT_EQ(std::system(("bash -c '" + cmd + "'").c_str()), 0);
  ASSERT_EQ(slurp(rc), "130\n");
  const std::string kept = slurp(cut + "/journal.txt");
  EXPECT_NE(kept.find("\npiqa 2\t"), std::string::npos) << kept;
  EXPECT_EQ(kept.find("\npiqa 29\t"), std::string::npos) << "the run finished before the signal";
  EXPECT_EQ(scores_of(args + " --out " + cut + " --resume", &status), whole);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(slurp(cut + "/journal.txt"), slurp(dir + "/whole/journal.txt"));
  ASSERT_EQ(system(("rm -rf " + dir).c_str()), 0);
}

// Several presets: each journals into its own folder, the accuracy table
// compares them, and a resume reads everything back unchanged.
TEST(EvalCliReal, SeveralPresetsWriteTheAccuracyTable) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(piqa_data()))
    GTEST_SKIP() << "needs the model and the PIQA data";
  const std::string dir = ::testing::TempDir() + "eval_presets_" + std::to_string(getpid());
  ASSERT_EQ(system(("rm -rf " + dir).c_str()), 0);
  const std::string args = "eval --quant fp,sq-o1 --calib-samples 2 --calib-seq-len 64 --tasks piqa --limit 4 --threads 2 --out " + dir;
  const CliRun r = run(args);
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string table = slurp(dir + "/accuracy.md");
  EXPECT_NE(table.find("| preset | weights / activations | alpha | piqa (4) | average | Δ average vs fp |"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("| sq-o1 |"), std::string::npos) << table;
  EXPECT_NE(slurp(dir + "/accuracy_differences.csv").find("sq-o1,"), std::string::npos);
  EXPECT_NE(slurp(dir + "/sq-o1/journal.txt").find("quant=\"sq-o1\""), std::string::npos);
  const std::string fp_items = slurp(dir + "/fp/items.jsonl");
  // A resume scores nothing again and writes the same table.
  const CliRun again = run(args + " --resume");
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("piqa: 4 items from the journal, 0 to score"), std::string::npos) << again.out;
  EXPECT_EQ(slurp(dir + "/fp/items.jsonl"), fp_items);
  // The same preset twice is refused before any work.
  const CliRun twice = run("eval --quant fp,sq-o1,fp --tasks piqa --model /nonexistent.gguf");
  EXPECT_NE(twice.status, 0);
  EXPECT_NE(twice.out.find("--quant: preset 'fp' is listed twice"), std::string::npos) << twice.out;
  ASSERT_EQ(system(("rm -rf " + dir).c_str()), 0);
}
