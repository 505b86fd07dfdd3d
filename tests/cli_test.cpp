// The sqsim binary: --help, config files, and one-line errors with a non-zero exit.
#include <gtest/gtest.h>

#include "tests/run_sqsim.h"

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(Cli, HelpListsCommandsAndOptions) {
  CliRun r = run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("layer-error"), std::string::npos);
  r = run("layer-error --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--w-granularity"), std::string::npos);
  EXPECT_NE(r.out.find("--config"), std::string::npos);
}

TEST(Cli, BadOptionsGiveOneLineErrors) {
  for (const char* args : {"layer-error --w-bits 9", "layer-error --w-granularity group0",
                           "layer-error --a-granularity per-row", "layer-error --alpha 2",
                           "layer-error --no-such-option", "layer-error --kernel cuda",
                           "layer-error --act-scale static --a-granularity per-token", "no-such-command"}) {
    const CliRun r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(lines(r.out), 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find("error"), std::string::npos) << args;
  }
  const CliRun r = run("layer-error --w-granularity group0");
  EXPECT_NE(r.out.find("'group0': group size must be positive"), std::string::npos) << r.out;
}

TEST(Cli, ConfigFileUsesTheSameNames) {
  const std::string path = testing::TempDir() + "/sqsim_cli_test_" + std::to_string(getpid()) + ".cfg";
  std::ofstream(path) << "tokens = 32\nin-features = 64\nout-features = 16\nalpha = none,0.5\nw-granularity = group32\n";
  CliRun r = run("layer-error --config " + path);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("X [32, 64]"), std::string::npos) << r.out;
  // The command line wins over the file.
  r = run("layer-error --config " + path + " --tokens 8");
  EXPECT_NE(r.out.find("X [8, 64]"), std::string::npos) << r.out;
  r = run("layer-error --config /nonexistent/x.cfg");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("/nonexistent/x.cfg"), std::string::npos);
}

TEST(Cli, SmoothingLowersTheErrorOfAnOutlierLayer) {
  const CliRun r = run("layer-error --alpha none,0.5 --outlier-scale 100");
  ASSERT_EQ(r.status, 0) << r.out;
  double none_err = 0, smooth_err = 0;
  std::sscanf(r.out.substr(r.out.find("\nnone")).c_str(), " none %lf", &none_err);
  std::sscanf(r.out.substr(r.out.find("\n0.5")).c_str(), " 0.5 %lf", &smooth_err);
  EXPECT_GT(none_err, 0);
  EXPECT_LT(smooth_err, 0.5 * none_err) << r.out;
}

}  // namespace

namespace {

TEST(CliTraces, MakeTracesThenOutlierReport) {
  const std::string dir = testing::TempDir() + "/sqsim_cli_outliers_" + std::to_string(getpid());
  const std::string traces = dir + ".h5";
  std::remove(traces.c_str());
  std::system(("rm -rf " + dir).c_str());
  CliRun r = run("make-traces --out " + traces + " --blocks 1 --tokens 32 --outlier-channels 2");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run("make-traces --out " + traces);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("exists"), std::string::npos);
  r = run("outliers --traces " + traces + " --out " + dir);
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream csv(dir + "/outliers.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("layer,tokens,in_features", 0), 0u);
  int rows = 0, q_outliers = -1;
  while (std::getline(csv, line)) {
    ++rows;
    if (line.rfind("model.layers.0.self_attn.q_proj,", 0) == 0) {
      // Column 8 (channels_over_median) counts the 2 planted channels.
      std::stringstream ss(line);
      std::string cell;
      for (int i = 0; i < 8; ++i) std::getline(ss, cell, ',');
      q_outliers = std::stoi(cell);
    }
  }
  EXPECT_EQ(rows, 7);
  EXPECT_EQ(q_outliers, 2);
  std::ifstream svg(dir + "/outliers_absmax.svg");
  std::string first;
  std::getline(svg, first);
  EXPECT_EQ(first.rfind("<svg", 0), 0u);
  // An existing report is not overwritten without --force.
  r = run("outliers --traces " + traces + " --out " + dir);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--force"), std::string::npos);
  r = run("outliers --traces /nonexistent.h5 --out " + dir + "_x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("/nonexistent.h5"), std::string::npos);
}

}  // namespace

namespace {

class SweepCli : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    // ctest runs tests in parallel processes: every path carries the pid.
    traces_ = testing::TempDir() + "/sqsim_sweep_traces_" + std::to_string(getpid()) + ".h5";
    // The same file tests/data/ci_sweep_baseline.csv was made from.
    const CliRun r = run("make-traces --force --out " + traces_ + " --blocks 1 --tokens 32 --seed 7");
    if (r.status != 0) setup_error_ = r.out;
  }
  void SetUp() override {
    // A failure in SetUpTestSuite would only skip the tests; fail them instead.
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }
  static std::string fresh_dir(const std::string& name) {
    const std::string d = testing::TempDir() + "/sqsim_sweep_" + name + "_" + std::to_string(getpid());
    std::system(("rm -rf " + d).c_str());
    return d;
  }
  static std::string traces_, setup_error_;
};
std::string SweepCli::traces_, SweepCli::setup_error_;

const std::string kCiConfig = std::string(SQSIM_TEST_DATA_DIR) + "/ci_sweep.cfg";

TEST_F(SweepCli, RegressionAgainstStoredBaseline) {
  const std::string out = fresh_dir("ci");
  CliRun r = run("sweep --config " + kCiConfig + " --traces " + traces_ + " --out " + out + " --threads 2");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run("check --baseline " + std::string(SQSIM_TEST_DATA_DIR) + "/ci_sweep_baseline.csv --results " + out +
          "/results.csv --tolerance 1e-6");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("0 regression(s)"), std::string::npos) << r.out;
  for (const char* f : {"summary.json", "summary.md", "summary.tex", "error_vs_alpha.svg", "smoothing_absmax.svg"}) {
    EXPECT_FALSE(slurp(out + "/" + f).empty()) << f;
  }
  EXPECT_NE(slurp(out + "/summary.json").find("\"sha256\": \""), std::string::npos);
}

TEST_F(SweepCli, CheckFailsAndListsAWorseRow) {
  const std::string base = std::string(SQSIM_TEST_DATA_DIR) + "/ci_sweep_baseline.csv";
  std::string text = slurp(base);
  // Make the first data row's output error 10% worse in a copy.
  const size_t row = text.find('\n') + 1;
  std::vector<std::string> cells;
  std::string line = text.substr(row, text.find('\n', row) - row);
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) cells.push_back(cell);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", std::stod(cells[7]) * 1.1);
  cells[7] = buf;
  std::string worse;
  for (size_t i = 0; i < cells.size(); ++i) worse += (i ? "," : "") + cells[i];
  text.replace(row, line.size(), worse);
  const std::string path = testing::TempDir() + "/sqsim_worse_" + std::to_string(getpid()) + ".csv";
  std::ofstream(path) << text;
  CliRun r = run("check --baseline " + base + " --results " + path + " --tolerance 0.05");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("worse: " + cells[0]), std::string::npos) << r.out;
  r = run("check --baseline " + base + " --results " + path + " --tolerance 0.2");
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST_F(SweepCli, SameBytesForOneAndTwoThreads) {
  const std::string a = fresh_dir("t1"), b = fresh_dir("t2");
  const std::string args = "sweep --config " + kCiConfig + " --traces " + traces_ + " --act-scale dynamic,static";
  ASSERT_EQ(run(args + " --out " + a + " --threads 1").status, 0);
  ASSERT_EQ(run(args + " --out " + b + " --threads 2").status, 0);
  const std::string ra = slurp(a + "/results.csv");
  EXPECT_GT(ra.size(), 1000u);
  EXPECT_EQ(ra, slurp(b + "/results.csv"));
}

TEST_F(SweepCli, KillNineThenResumeGivesTheSameResults) {
  const std::string ref = fresh_dir("ref"), out = fresh_dir("killed");
  const std::string args = "sweep --config " + kCiConfig + " --traces " + traces_ +
                           " --alpha none,0:1:0.25 --threads 2";
  ASSERT_EQ(run(args + " --out " + ref).status, 0);
  // Start, let it journal some rows, then kill -9 mid-run.
  const std::string cmd = std::string(SQSIM_BINARY) + " " + args + " --out " + out +
                          " 2>/dev/null & pid=$!; for i in $(seq 200); do "
                          "[ -s " + out + "/journal.txt ] && [ $(grep -c \"^[0-9]\" " + out +
                          "/journal.txt) -ge 10 ] && break; sleep 0.02; done; kill -9 $pid; wait $pid";
  std::system(("bash -c '" + cmd + "'").c_str());
  EXPECT_TRUE(slurp(out + "/results.csv").empty()) << "the sweep finished before it was killed";
  EXPECT_FALSE(slurp(out + "/journal.txt").empty());
  // Without --resume or --force the directory is protected.
  EXPECT_NE(run(args + " --out " + out).status, 0);
  const CliRun r = run(args + " --out " + out + " --resume");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(slurp(out + "/results.csv"), slurp(ref + "/results.csv"));
  // Resuming with other options is refused.
  EXPECT_NE(run("sweep --config " + kCiConfig + " --traces " + traces_ + " --alpha 0.3 --out " + out + " --resume").status,
            0);
}

TEST_F(SweepCli, BadOptionsAreOneLineErrors) {
  for (const std::string args : {"--layers 'nothing*'", "--alpha 0:1", "--w-granularity group7x", "--threads -1",
                                 "--a-bits 1"}) {
    const CliRun r = run("sweep --traces " + traces_ + " --out " + fresh_dir("bad") + " " + args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(lines(r.out), 1) << args << ": " << r.out;
  }
}

}  // namespace

namespace {

TEST_F(SweepCli, SigtermStopsCleanlyAndResumeFinishes) {
  const std::string ref = fresh_dir("sig_ref"), out = fresh_dir("sig");
  const std::string args = "sweep --config " + kCiConfig + " --traces " + traces_ + " --alpha none,0:1:0.25 --threads 2";
  ASSERT_EQ(run(args + " --out " + ref).status, 0);
  const std::string log = out + ".log";
  const std::string cmd = std::string(SQSIM_BINARY) + " " + args + " --out " + out + " 2>" + log +
                          " & pid=$!; for i in $(seq 200); do grep -q \"^[0-9]\" " + out + "/journal.txt 2>/dev/null && break; "
                          "sleep 0.02; done; kill -TERM $pid; wait $pid; echo $? > " + out + ".rc";
  std::system(("bash -c '" + cmd + "'").c_str());
  EXPECT_EQ(slurp(out + ".rc"), "143\n");
  const std::string err = slurp(log);
  EXPECT_NE(err.find("interrupted by SIGTERM"), std::string::npos) << err;
  EXPECT_NE(err.find("--resume"), std::string::npos) << err;
  EXPECT_TRUE(slurp(out + "/results.csv").empty());
  const CliRun r = run(args + " --out " + out + " --resume");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(slurp(out + "/results.csv"), slurp(ref + "/results.csv"));
}

}  // namespace
