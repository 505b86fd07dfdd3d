// `sqsim ppl` with ± and `--kl-base` on the real model (skipped when absent):
// the printed standard error against one computed here from the model's
// logits, the file base against the in-process float base, and the one-line
// refusals of bad KL options and of a base made from other tokens; with
// --out, the journal of windows and a --resume that gives the same numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "base/io.h"
#include "real_data.h"
#include "run_sqsim.h"
#include "sim/eval/stats.h"
#include "sim/models/load_model.h"

using sqsim_test::exists;
using sqsim_test::kModel;
using sqsim_test::kWiki;

namespace {

double json_number(const std::string& out, const std::string& name) {
  const size_t at = out.find("\"" + name + "\": ");
  if (at == std::string::npos) return std::nan("");
  return std::stod(out.substr(at + name.size() + 4));
}

std::string common() {
  return "ppl --model " + kModel + " --text " + kWiki + " --max-tokens 256 --seq-len 64 --threads 2 --json";
}

}  // namespace

TEST(PplKlCli, StderrMatchesAnIndependentComputation) {
  if (!exists(kModel) || !exists(kWiki)) GTEST_SKIP() << "model or WikiText-2 absent";
  const CliRun r = run(common());
  ASSERT_EQ(r.status, 0) << r.out;
  // Per-token NLLs of the same 4 windows, log-softmax written here.
  const sqsim::LoadedModel m = sqsim::load_model(kModel);
  std::vector<int32_t> ids = sqsim::tokenize_document(m, sqsim::read_text_file(kWiki));
  ids.resize(256);
  std::vector<double> nll;
  for (size_t w = 0; w < 4; ++w) {
    const std::vector<int32_t> win(ids.begin() + long(64 * w), ids.begin() + long(64 * (w + 1)));
    const sqsim::MatrixF logits = m.model->forward(win);
    for (long t = 0; t + 1 < 64; ++t) {
      double mx = -1e300, s = 0;
      for (long j = 0; j < logits.cols(); ++j) mx = std::max(mx, double(logits(t, j)));
      for (long j = 0; j < logits.cols(); ++j) s += std::exp(double(logits(t, j)) - mx);
      nll.push_back(mx + std::log(s) - double(logits(t, win[size_t(t) + 1])));
    }
  }
  double mean = 0, ss = 0;
  for (const double v : nll) mean += v / double(nll.size());
  for (const double v : nll) ss += (v - mean) * (v - mean);
  const double se = std::sqrt(ss / double(nll.size() - 1) / double(nll.size()));
  EXPECT_NEAR(json_number(r.out, "ppl"), std::exp(mean), 2e-6 * std::exp(mean)) << r.out;
  EXPECT_NEAR(json_number(r.out, "ppl_stderr"), std::exp(mean) * se, 1e-5 * std::exp(mean)) << r.out;
  EXPECT_NE(r.out.find("\"stderr_estimator\": \"token\""), std::string::npos) << r.out;
}

TEST(PplKlCli, FileBaseAgreesWithTheInProcessBaseAndRefusesOtherTokens) {
  if (!exists(kModel) || !exists(kWiki)) GTEST_SKIP() << "model or WikiText-2 absent";
  const std::string base = ::testing::TempDir() + "/ppl_kl_base.bin";
  std::remove(base.c_str());
  const CliRun fp = run(common() + " --quant w8a8 --kl-base fp --kl-base-save " + base);
  ASSERT_EQ(fp.status, 0) << fp.out;
  const CliRun file = run(common() + " --quant w8a8 --kl-base " + base);
  ASSERT_EQ(file.status, 0) << file.out;
  const double kl = json_number(fp.out, "kl_mean");
  EXPECT_GT(kl, 0.01) << fp.out;  // naive W8A8 moves SmolLM2's distributions
  EXPECT_NEAR(json_number(file.out, "kl_mean"), kl, 1e-4 * kl) << file.out;
  EXPECT_EQ(json_number(file.out, "same_top1"), json_number(fp.out, "same_top1"));
  EXPECT_EQ(json_number(file.out, "ppl"), json_number(fp.out, "ppl"));
  // The float model against itself.
  const CliRun self = run(common() + " --kl-base " + base);
  ASSERT_EQ(self.status, 0) << self.out;
  EXPECT_LT(json_number(self.out, "kl_mean"), 1e-6) << self.out;
  EXPECT_EQ(json_number(self.out, "same_top1"), 1.0) << self.out;

  // Other tokens (another text cut): one line naming the file.
  const CliRun other = run("ppl --model " + kModel + " --text " + kWiki +
                           " --max-tokens 320 --seq-len 64 --threads 2 --kl-base " + base);
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.out.find(base + ": a KL base of another model, tokenizer, text or window"), std::string::npos)
      << other.out;
  EXPECT_EQ(other.out.find('\n'), other.out.size() - 1) << other.out;
  std::remove(base.c_str());
}

TEST(PplKlCli, BadKlOptionsAreOneLineErrors) {
  if (!exists(kModel) || !exists(kWiki)) GTEST_SKIP() << "model or WikiText-2 absent";
  const std::string missing = ::testing::TempDir() + "/no_such_kl_base.bin";
  const std::pair<std::string, std::string> cases[] = {
      {" --kl-base " + missing, missing + ": cannot read the KL base file"},
      {" --quant sq-o1 --alpha 0.4,0.6 --kl-base fp", "--kl-base: one --alpha"},
      {" --kl-base " + missing + " --kl-base-save x.bin", "--kl-base-save: the base is the float model"},
  };
  for (const auto& [args, expected] : cases) {
    const CliRun r = run(common() + args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find(expected), std::string::npos) << args << ": " << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << args << ": " << r.out;
  }
}

TEST(PplKlCli, OutJournalsWindowsAndResumeGivesTheSameNumbers) {
  if (!exists(kModel) || !exists(kWiki)) GTEST_SKIP() << "model or WikiText-2 absent";
  const std::string dir = ::testing::TempDir() + "/ppl_kl_journal";
  const std::string args = common() + " --quant w8a8 --kl-base fp --out " + dir;
  const CliRun whole = run(args + " --force");
  ASSERT_EQ(whole.status, 0) << whole.out;
  const std::string journal = dir + "/journal.txt";
  const std::string text = sqsim::read_file(journal, "journal");
  size_t windows = 0;
  for (size_t at = text.find("\nwindow "); at != std::string::npos; at = text.find("\nwindow ", at + 1)) ++windows;
  EXPECT_EQ(windows, 4u);
  EXPECT_NE(sqsim::read_file(dir + "/kl.csv", "csv").find("w8a8,-,fp,252,4,64,"), std::string::npos);

  // Killed after two windows, in the middle of the third's line.
  const size_t third = text.find("\nwindow 2\t");
  ASSERT_NE(third, std::string::npos);
  sqsim::write_file_atomic(journal, text.substr(0, third + 200));
  const CliRun resumed = run(args + " --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("2 of 4 windows read from the journal"), std::string::npos) << resumed.out;
  for (const char* name : {"kl_mean", "kl_median", "kl_p99", "kl_max", "same_top1", "delta_p", "ppl", "ppl_stderr",
                           "base_ppl", "ppl_ratio", "ppl_ratio_stderr"})
    EXPECT_EQ(json_number(resumed.out, name), json_number(whole.out, name)) << name;
  // Everything journaled: nothing runs again, same numbers.
  const CliRun again = run(args + " --resume");
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("4 of 4 windows read from the journal"), std::string::npos) << again.out;
  EXPECT_EQ(json_number(again.out, "kl_mean"), json_number(whole.out, "kl_mean"));

  // Another preset: refused by name, the journal kept.
  const CliRun other = run(common() + " --quant w8a8-pc --kl-base fp --out " + dir + " --resume");
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.out.find(journal + " records other settings"), std::string::npos) << other.out;
  EXPECT_EQ(other.out.find('\n'), other.out.size() - 1) << other.out;
  const std::string kept = sqsim::read_file(journal, "journal");
  EXPECT_NE(kept.find("\nwindow 3\t"), std::string::npos);

  // A damaged window line: one line naming the journal's line.
  const size_t w1 = kept.find("\nwindow 1\t");
  std::string damaged = kept;
  damaged.replace(w1 + 10, 1, "x");
  sqsim::write_file_atomic(journal, damaged);
  const CliRun bad = run(args + " --resume");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find(journal + ": line "), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("expected a finite number"), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find('\n'), bad.out.size() - 1) << bad.out;
}
