// The sqsim binary: --help, config files, and one-line errors with a non-zero exit.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <string>
#include <sys/wait.h>

namespace {

struct CliRun {
  int status;
  std::string out;
};

CliRun run(const std::string& args) {
  const std::string cmd = std::string(SQSIM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

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
  for (const char* args : {"layer-error --w-bits 9", "layer-error --w-granularity group48 --in 100",
                           "layer-error --a-granularity per-row", "layer-error --alpha 2",
                           "layer-error --no-such-option", "layer-error --kernel cuda",
                           "layer-error --act-scale static --a-granularity per-token", "no-such-command"}) {
    const CliRun r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(lines(r.out), 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find("error"), std::string::npos) << args;
  }
  const CliRun r = run("layer-error --w-granularity group48 --in 100");
  EXPECT_NE(r.out.find("group size 48 does not divide the row length 100"), std::string::npos) << r.out;
}

TEST(Cli, ConfigFileUsesTheSameNames) {
  const std::string path = testing::TempDir() + "/sqsim_cli_test.cfg";
  std::ofstream(path) << "tokens = 32\nin = 64\nout = 16\nalpha = none,0.5\nw-granularity = group32\n";
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
  const std::string dir = testing::TempDir() + "/sqsim_cli_outliers";
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
