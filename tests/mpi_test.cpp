// `mpirun -n N sqsim ...` (docs/mpi.md): the files rank 0 writes are the bytes
// of a one-process run, a job killed with kill -9 of one rank is finished by
// --resume, and a rank that fails is named. Compiled only in an MPI build
// (tests/CMakeLists.txt defines SQSIM_MPIEXEC).
#ifdef SQSIM_MPIEXEC
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "sim/formats/trace_file.h"
#include "tests/real_data.h"
#include "tests/run_sqsim.h"

namespace {

// CI runs as root; 3 ranks on a 2-core machine need --oversubscribe.
// LeakSanitizer (the sanitizer build) is told to ignore Open MPI's own
// allocations that it keeps until exit (tests/mpi_lsan.supp); the slow
// unwinder lets it see their stacks through Open MPI's frames (ignored in the
// Release build).
std::string mpirun(int ranks) {
  return "env ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0\" LSAN_OPTIONS=suppressions=" SQSIM_LSAN_SUPP
         " " SQSIM_MPIEXEC " -n " + std::to_string(ranks) + " --oversubscribe --allow-run-as-root ";
}

CliRun run_mpi(int ranks, const std::string& args, const std::string& cwd = ".") {
  return run_command("cd " + cwd + " && " + mpirun(ranks) + SQSIM_BINARY + " " + args);
}
CliRun run_one(const std::string& args, const std::string& cwd = ".") {
  return run_command("cd " + cwd + " && " SQSIM_BINARY " " + args);
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Each line without its last tab- or comma-separated field (a wall time).
std::string without_times(const std::string& text, char sep) {
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line)) out += line.substr(0, line.rfind(sep)) + "\n";
  return out;
}

class Mpi : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::TempDir() + "/sqsim_mpi_" + std::to_string(getpid());
    std::system(("rm -rf " + dir_ + " && mkdir -p " + dir_).c_str());
    traces_ = dir_ + "/traces.h5";
    const CliRun r = run("make-traces --out " + traces_ + " --blocks 1 --tokens 32 --seed 7");
    if (r.status != 0) setup_error_ = r.out;
  }
  static void TearDownTestSuite() { std::system(("rm -rf " + dir_).c_str()); }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  // An empty folder; runs compared byte for byte use the same --out name in two of them.
  static std::string fresh(const std::string& name) {
    const std::string d = dir_ + "/" + name;
    std::system(("rm -rf " + d + " && mkdir -p " + d).c_str());
    return d;
  }
  static std::string sweep_args() {
    return "sweep --config " SQSIM_TEST_DATA_DIR "/ci_sweep.cfg --traces " + traces_ + " --threads 1 --out out";
  }
  static std::string dir_, traces_, setup_error_;
};
std::string Mpi::dir_, Mpi::traces_, Mpi::setup_error_;

const char* const kSweepFiles[] = {"results.csv", "summary.md", "summary.tex", "error_vs_alpha.svg",
                                   "smoothing_absmax.svg", "journal.txt"};

// The files of two sweeps of the same command line; with `resumed`, b's
// command had --resume, which summary.* record, so only the others compare.
void expect_same_sweep(const std::string& a, const std::string& b, bool resumed = false) {
  for (const char* f : kSweepFiles) {
    if (resumed && std::string(f).compare(0, 7, "summary") == 0) continue;
    EXPECT_EQ(slurp(a + "/out/" + f), slurp(b + "/out/" + f)) << f;
  }
  if (resumed) return;
  // summary.json: the same but for this run's wall time.
  const auto json = [](const std::string& d) {
    std::string s = slurp(d + "/out/summary.json");
    return s.substr(0, s.find("\"seconds_this_run\""));
  };
  EXPECT_EQ(json(a), json(b));
  EXPECT_GT(slurp(b + "/out/results.csv").size(), 1000u);
}

TEST_F(Mpi, SweepOnTwoRanksWritesTheBytesOfOneProcess) {
  const std::string one = fresh("sweep1"), two = fresh("sweep2");
  ASSERT_EQ(run_one(sweep_args(), one).status, 0);
  const CliRun r = run_mpi(2, sweep_args(), two);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("2 ranks"), std::string::npos) << r.out;
  expect_same_sweep(one, two);
  // The rank journals were merged into journal.txt and removed.
  EXPECT_TRUE(slurp(two + "/out/journal.rank1.txt").empty());
}

TEST_F(Mpi, MoreRanksThanWorkLeavesRanksIdleAndTheSameBytes) {
  // One layer at one alpha: a single unit of work for three ranks.
  const std::string args = sweep_args() + " --layers '*q_proj' --alpha 0.5";
  const std::string one = fresh("idle1"), three = fresh("idle3");
  ASSERT_EQ(run_one(args, one).status, 0);
  const CliRun r = run_mpi(3, args, three);
  ASSERT_EQ(r.status, 0) << r.out;
  expect_same_sweep(one, three);
}

TEST_F(Mpi, KillNineOfOneRankThenResumeGivesTheSameBytes) {
  const std::string args = sweep_args() + " --alpha none,0:1:0.125";
  const std::string one = fresh("kill1"), two = fresh("kill2");
  ASSERT_EQ(run_one(args, one).status, 0);
  // Start the job, wait for some journaled rows, kill -9 one rank: mpirun ends the job.
  // (exec: $job is mpirun itself, and its children are the ranks.) The wait
  // ends at the 20th row; its cap is long because two ranks under the
  // sanitizers, beside another test, took over 5 s to journal any (a kill
  // before the first row left nothing to resume).
  const std::string cmd = "(cd " + two + " && exec " + mpirun(2) + SQSIM_BINARY + " " + args +
                          " >/dev/null 2>&1) & job=$!; for i in $(seq 12000); do "
                          "[ $(cat " + two + "/out/journal.rank*.txt 2>/dev/null | grep -c \"^[0-9]\") -ge 20 ] && break; "
                          "sleep 0.01; done; kill -9 $(pgrep -P $job | tail -1); wait $job; echo $? > " + two + "/rc";
  std::system(("bash -c '" + cmd + "'").c_str());
  EXPECT_NE(slurp(two + "/rc"), "0\n");
  ASSERT_TRUE(slurp(two + "/out/results.csv").empty()) << "the job finished before the kill";
  const CliRun r = run_mpi(2, args + " --resume", two);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("done before"), std::string::npos) << r.out;
  expect_same_sweep(one, two, /*resumed=*/true);
}

TEST_F(Mpi, AnUnreadableFileOnOneRankIsNamedOnce) {
  // Rank 1 is given a trace path that does not exist (a per-rank path).
  const std::string d = fresh("unreadable");
  std::system(("cp " + traces_ + " " + d + "/t0.h5").c_str());
  const CliRun r = run_command("cd " + d + " && " + mpirun(2) + "sh -c 'exec " SQSIM_BINARY " sweep --traces " + d +
                               "/t$OMPI_COMM_WORLD_RANK.h5 --out out'");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(count(r.out, "sqsim sweep: error: rank 1: "), 1) << r.out;
  EXPECT_NE(r.out.find("t1.h5"), std::string::npos) << r.out;
  EXPECT_TRUE(slurp(d + "/out/results.csv").empty());
}

TEST_F(Mpi, RanksWithOtherSettingsOrBuildsAreRefused) {
  const std::string d = fresh("mismatch");
  CliRun r = run_command("cd " + d + " && " + mpirun(2) + "sh -c 'exec " SQSIM_BINARY " sweep --traces " + traces_ +
                         " --out out --alpha 0.$((OMPI_COMM_WORLD_RANK + 4))'");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(count(r.out, "sqsim sweep: error: rank 1: its sweep settings differ from rank 0's: 'alpha=0.5' where "
                         "rank 0 has 'alpha=0.4'"),
            1)
      << r.out;
  // A copy of the executable with one byte more stands for another build.
  std::system(("cp " SQSIM_BINARY " " + d + "/other && echo >> " + d + "/other").c_str());
  r = run_command("cd " + d + " && " + mpirun(2) + "sh -c '[ $OMPI_COMM_WORLD_RANK = 1 ] && exec " + d +
                  "/other info; exec " SQSIM_BINARY " info'");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("rank 1: this rank runs another sqsim build than rank 0"), std::string::npos) << r.out;
}

TEST_F(Mpi, CommandsThatAreNotSplitRefuseSeveralRanksOnce) {
  const CliRun r = run_command(mpirun(2) + SQSIM_BINARY " make-traces --out " + dir_ + "/never.h5");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(count(r.out, "sqsim make-traces: error: rank 0: make-traces runs on one rank only"), 1) << r.out;
  EXPECT_TRUE(slurp(dir_ + "/never.h5").empty());
}

TEST_F(Mpi, PerplexityOfTwoAlphasOnTwoRanksIsTheOneProcessResult) {
  using sqsim_test::kModel;
  using sqsim_test::kPtbValid;
  using sqsim_test::kWiki;
  for (const std::string& f : {kModel, kWiki, kPtbValid})
    if (!sqsim_test::exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string args = "ppl --quant sq-o1 --alpha 0.4,0.6 --max-tokens 512 --seq-len 128 --calib-samples 4 "
                           "--calib-seq-len 64 --holdout-tokens 64 --threads 1 --out out";
  const std::string one = fresh("ppl1"), two = fresh("ppl2");
  CliRun r = run_one(args, one);
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_mpi(2, args, two);
  ASSERT_EQ(r.status, 0) << r.out;
  // The same numbers, bit for bit; only the seconds (last field) differ.
  const std::string csv = slurp(one + "/out/results.csv");
  EXPECT_EQ(count(csv, "\n"), 3) << csv;
  EXPECT_EQ(without_times(csv, ','), without_times(slurp(two + "/out/results.csv"), ','));
  const std::string journal = slurp(one + "/out/journal.txt");
  EXPECT_EQ(count(journal, "|window "), 8) << journal;
  EXPECT_EQ(without_times(journal, '\t'), without_times(slurp(two + "/out/journal.txt"), '\t'));
}

TEST_F(Mpi, PerplexityKilledOnTwoRanksIsFinishedByOneProcess) {
  for (const std::string& f : {sqsim_test::kModel, sqsim_test::kWiki, sqsim_test::kPtbValid})
    if (!sqsim_test::exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string args = "ppl --quant sq-o1 --alpha 0.3,0.5,0.7 --max-tokens 1024 --seq-len 128 --calib-samples 4 "
                           "--calib-seq-len 64 --holdout-tokens 64 --threads 1 --out out";
  const std::string one = fresh("pplkill1"), two = fresh("pplkill2");
  ASSERT_EQ(run_one(args, one).status, 0);
  // 24 windows on 2 ranks; kill -9 one rank once 6 are journaled.
  const std::string cmd = "(cd " + two + " && exec " + mpirun(2) + SQSIM_BINARY + " " + args +
                          " >/dev/null 2>&1) & job=$!; for i in $(seq 1200); do "
                          "[ $(cat " + two + "/out/journal.rank*.txt 2>/dev/null | grep -c window) -ge 6 ] && break; "
                          "sleep 0.05; done; kill -9 $(pgrep -P $job | tail -1); wait $job";
  std::system(("bash -c '" + cmd + "'").c_str());
  ASSERT_TRUE(slurp(two + "/out/results.csv").empty()) << "the job finished before the kill";
  // One process reads the rank journals and finishes: same numbers, merged journal.
  const CliRun r = run_one(args + " --resume", two);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(without_times(slurp(one + "/out/results.csv"), ','), without_times(slurp(two + "/out/results.csv"), ','));
  EXPECT_EQ(without_times(slurp(one + "/out/journal.txt"), '\t'), without_times(slurp(two + "/out/journal.txt"), '\t'));
  EXPECT_TRUE(slurp(two + "/out/journal.rank0.txt").empty());
}

// trace splits its calibration windows over the ranks; rank 0 writes the
// file one process writes (compared by content: HDF5 files carry no
// timestamps here, but the test need not rely on that).
TEST_F(Mpi, TraceOnTwoAndThreeRanksWritesTheOneProcessTraces) {
  using sqsim_test::kModel;
  using sqsim_test::kPtbValid;
  for (const std::string& f : {kModel, kPtbValid})
    if (!sqsim_test::exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string args = "trace --model " + kModel + " --text " + kPtbValid +
                           " --tokens 10 --windows 4 --seq-len 32 --layers 'model.layers.2.*' --threads 1 --out t.h5";
  const std::string one = fresh("trace1"), two = fresh("trace2"), three = fresh("trace3");
  CliRun r = run_one(args, one);
  ASSERT_EQ(r.status, 0) << r.out;
  const sqsim::TraceFile a = sqsim::read_trace_file(one + "/t.h5");
  ASSERT_EQ(a.layers.size(), 7u);
  for (const std::string& d : {two, three}) {
    r = run_mpi(d == two ? 2 : 3, args, d);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(count(r.out, "trace: 7 layers"), 1) << r.out;
    const sqsim::TraceFile b = sqsim::read_trace_file(d + "/t.h5");
    ASSERT_EQ(b.layers.size(), a.layers.size());
    for (size_t i = 0; i < a.layers.size(); ++i) {
      EXPECT_EQ(b.layers[i].name, a.layers[i].name);
      EXPECT_EQ(b.layers[i].input, a.layers[i].input) << a.layers[i].name;
      EXPECT_EQ(*b.layers[i].input_absmax, *a.layers[i].input_absmax) << a.layers[i].name;
      EXPECT_EQ(b.layers[i].weight, a.layers[i].weight) << a.layers[i].name;
    }
  }
}

// paper-tables: every perplexity of the parts split over the ranks, LLM.int8()'s
// column counts on rank 0; the tables and the merged journal are the
// one-process ones but for wall times (the journal's seconds, the tables'
// "s / window" column).
TEST_F(Mpi, PaperTablesOnTwoRanksWriteTheOneProcessTables) {
  using sqsim_test::kModel;
  for (const std::string& f : {kModel, sqsim_test::kWiki, sqsim_test::kPtb, sqsim_test::kPtbValid})
    if (!sqsim_test::exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string args =
      "paper-tables --model " + kModel + " --wikitext " + sqsim_test::kWiki + " --ptb " + sqsim_test::kPtb +
      " --calib-text " + sqsim_test::kPtbValid +
      " --seq-len 64 --max-tokens 256 --calib-samples 4 --calib-seq-len 64 --holdout-tokens 64 --threads 1"
      " --parts table1,table4,observers,llm-int8-columns --table1 sq-o1,w8a8 --table4 fp,w8a8,sq-o3"
      " --observers absmax,percentile:99.99 --llm-int8-columns llm-int8 --columns-windows 1 --out out";
  const std::string one = fresh("paper1"), two = fresh("paper2");
  CliRun r = run_one(args, one);
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_mpi(2, args, two);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.out, "paper-tables: done"), 1) << r.out;
  for (const char* f : {"table1.csv", "observers.csv", "llm_int8_columns.csv", "llm_int8_column_indices.csv"})
    EXPECT_EQ(slurp(one + "/out/" + f), slurp(two + "/out/" + f)) << f;
  EXPECT_EQ(without_times(slurp(one + "/out/table4.csv"), ','), without_times(slurp(two + "/out/table4.csv"), ','));
  const std::string journal = slurp(one + "/out/journal.txt");
  // table1 sq-o1, w8a8; table4 fp, (w8a8), sq-o3; observers (absmax = sq-o3),
  // percentile: 5 perplexities of 4 windows on each text.
  EXPECT_EQ(count(journal, "|window "), 5 * 4 * 2) << journal;
  EXPECT_EQ(without_times(journal, '\t'), without_times(slurp(two + "/out/journal.txt"), '\t'));
  EXPECT_EQ(slurp(one + "/out/calibration.bin"), slurp(two + "/out/calibration.bin"));
}

// eval's journal under mpirun: per-rank files merged into the one-process
// journal.txt and items.jsonl; a journal cut in half (as a kill leaves it) is
// finished on two ranks, which score only the missing items.
TEST_F(Mpi, EvalJournalOnTwoRanksIsTheOneProcessJournalAndResumes) {
  if (!sqsim_test::exists(sqsim_test::kModel)) GTEST_SKIP() << "absent: " << sqsim_test::kModel;
  const std::string args = "eval --tasks piqa,lambada_openai --limit 6 --threads 1 --json --out out";
  const std::string one = fresh("evalj1"), two = fresh("evalj2"), cut = fresh("evalj3");
  CliRun r = run_one(args, one);
  if (r.status != 0 && r.out.find("does not exist") != std::string::npos) GTEST_SKIP() << r.out;
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_mpi(2, args, two);
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string journal = slurp(one + "/out/journal.txt");
  EXPECT_EQ(count(journal, "piqa "), 6) << journal;
  EXPECT_EQ(journal, slurp(two + "/out/journal.txt"));
  EXPECT_EQ(slurp(one + "/out/items.jsonl"), slurp(two + "/out/items.jsonl"));
  EXPECT_TRUE(slurp(two + "/out/journal.rank1.txt").empty()) << "rank files are merged and removed";

  // Keep the settings and the first 5 items, then resume on two ranks.
  std::istringstream in(journal);
  std::string kept, line;
  for (int n = 0; std::getline(in, line);) {
    const bool item = line.compare(0, 5, "piqa ") == 0 || line.compare(0, 15, "lambada_openai ") == 0;
    if (item && ++n > 5) continue;
    kept += line + "\n";
  }
  std::system(("mkdir -p " + cut + "/out").c_str());
  std::ofstream(cut + "/out/journal.txt") << kept;
  r = run_mpi(2, args + " --resume", cut);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(slurp(cut + "/out/journal.txt"), journal);
  EXPECT_EQ(slurp(cut + "/out/items.jsonl"), slurp(one + "/out/items.jsonl"));
}

TEST_F(Mpi, EvalItemsOnTwoRanksScoreAsOneProcess) {
  if (!sqsim_test::exists(sqsim_test::kModel)) GTEST_SKIP() << "absent: " << sqsim_test::kModel;
  const std::string args = "eval --tasks piqa,lambada_openai --limit 8 --threads 1 --json";
  const CliRun one = run_command(SQSIM_BINARY " " + args);
  if (one.status != 0 && one.out.find("does not exist") != std::string::npos) GTEST_SKIP() << one.out;
  ASSERT_EQ(one.status, 0) << one.out;
  // stderr apart: mpirun forwards the two streams separately, so a progress
  // line can land inside a result line.
  const std::string err = dir_ + "/eval2.err";
  const CliRun two = run_command("(" + mpirun(2) + SQSIM_BINARY " " + args + " 2>" + err + ")");
  ASSERT_EQ(two.status, 0) << two.out << slurp(err);
  // One JSON line per task: the same metrics, only the seconds differ.
  const auto metrics = [](const std::string& out) {
    std::string m;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
      if (line.compare(0, 1, "{") == 0) m += line.substr(0, line.find("\"seconds\"")) + "\n";
    return m;
  };
  EXPECT_EQ(count(one.out, "\"task\""), 2) << one.out;
  EXPECT_EQ(metrics(one.out), metrics(two.out));
}

}  // namespace
#endif  // SQSIM_MPIEXEC
