// The KL base file (sim/eval/kl_base_file.h): the uint16 log-prob record's
// error bound, a round trip through writer and reader, and the refusals of a
// base of another model/text, a truncated file and a file of another kind;
// the perplexity's uncertainty (sim/eval/perplexity.h) against an independent
// computation over the tokens.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "sim/eval/kl_base_file.h"
#include "sim/eval/kl_divergence.h"
#include "sim/eval/perplexity.h"
#include "sim/eval/stats.h"

using namespace sqsim;

namespace {

std::string temp_file(const std::string& name) { return ::testing::TempDir() + "/kl_base_" + name; }

// log-softmax of a row in double, written here again (not kl_base_file's).
std::vector<double> log_probs(const float* row, long n) {
  double mx = row[0];
  for (long j = 1; j < n; ++j) mx = std::max(mx, double(row[j]));
  double s = 0;
  for (long j = 0; j < n; ++j) s += std::exp(double(row[j]) - mx);
  std::vector<double> out;
  for (long j = 0; j < n; ++j) out.push_back(double(row[j]) - mx - std::log(s));
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

KlBaseShape shape(long vocab, int seq_len, size_t windows, const std::string& key) {
  KlBaseShape s;
  s.vocab = vocab;
  s.seq_len = seq_len;
  s.windows = windows;
  s.key = key;
  return s;
}

}  // namespace

TEST(KlBaseFile, RecordKeepsLogProbsWithinHalfAStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 4.0f);
  const long V = 1000;
  std::vector<float> row(V);
  for (float& v : row) v = g(rng);
  row[3] = 60.0f;  // a peak: part of the row lies more than 30 nats below it
  const std::vector<double> lp = log_probs(row.data(), V);
  const std::string rec = kl_base_row_bytes(row.data(), V);
  ASSERT_EQ(rec.size(), size_t(8 + 2 * V));
  std::vector<float> back(V);
  kl_base_row_decode(rec.data(), V, back.data());
  const double step = 30.0 / 65535;
  for (long j = 0; j < V; ++j) {
    if (lp[size_t(j)] >= lp[3] - 30)
      EXPECT_NEAR(back[size_t(j)], lp[size_t(j)], step / 2 + 1e-5) << j;  // + float32 decoding
    else
      EXPECT_NEAR(back[size_t(j)], lp[3] - 30, 1e-4) << j;  // clamped to the floor
  }
  // A constant row: step 0, every log-prob exactly -ln V.
  const std::vector<float> flat(V, 1.5f);
  kl_base_row_decode(kl_base_row_bytes(flat.data(), V).data(), V, back.data());
  for (const float v : back) EXPECT_NEAR(v, -std::log(double(V)), 1e-6);
}

TEST(KlBaseFile, RoundTripGivesTheKlOfTheLogits) {
  const std::string path = temp_file("round.bin");
  const long V = 50;
  const int L = 5;
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 2.0f);
  std::vector<MatrixF> base(3, MatrixF(L, V)), quant(3, MatrixF(L, V));
  for (int w = 0; w < 3; ++w)
    for (long i = 0; i < L; ++i)
      for (long j = 0; j < V; ++j) {
        base[w](i, j) = g(rng);
        quant[w](i, j) = base[w](i, j) + 0.3f * g(rng);
      }
  std::remove(path.c_str());
  KlBaseWriter writer(path, shape(V, L, 3, "model sha256 aa\ntokens sha256 bb\n"));
  for (const MatrixF& m : base) writer.add_window(m);
  EXPECT_FALSE(std::ifstream(path).good()) << "the final name appears only when finished";
  writer.finish();
  KlBaseReader reader(path, shape(V, L, 3, "model sha256 aa\ntokens sha256 bb\n"));
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5};
  for (size_t w : {2u, 0u, 1u}) {  // any order
    const MatrixF back = reader.window(w);
    ASSERT_EQ(back.rows(), L - 1);
    const MatrixF q = quant[w].topRows(L - 1);  // the rows that predict a next token
    const std::vector<TokenKl> exact = window_kl(base[w].topRows(L - 1), q, tokens);
    const std::vector<TokenKl> stored = window_kl(back, q, tokens);
    for (size_t t = 0; t < exact.size(); ++t) {
      EXPECT_NEAR(stored[t].kl, exact[t].kl, 2e-4 * (1 + exact[t].kl)) << w << " " << t;
      EXPECT_NEAR(stored[t].p_base, exact[t].p_base, 3e-4 * exact[t].p_base);
    }
  }
  std::remove(path.c_str());
}

TEST(KlBaseFile, RefusesAnotherModelTruncationAndOtherFiles) {
  const std::string path = temp_file("refuse.bin");
  const KlBaseShape made = shape(4, 3, 2, "model sha256 aa\ntokens sha256 bb\n");
  {
    KlBaseWriter writer(path, made);
    writer.add_window(MatrixF::Zero(3, 4));
    writer.add_window(MatrixF::Ones(3, 4));
    writer.finish();
  }
  EXPECT_NO_THROW(KlBaseReader(path, made));
  const auto refused = [&](const KlBaseShape& s) { return error_of([&] { KlBaseReader r(path, s); }); };
  std::string e = refused(shape(4, 3, 2, "model sha256 aa\ntokens sha256 cc\n"));
  EXPECT_NE(e.find(path + ": a KL base of another model, tokenizer, text or window"), std::string::npos) << e;
  EXPECT_NE(e.find("'tokens sha256 bb' where this run has 'tokens sha256 cc'"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  e = refused(shape(4, 3, 2, "model sha256 xx\ntokens sha256 bb\n"));
  EXPECT_NE(e.find("'model sha256 aa'"), std::string::npos) << e;
  EXPECT_NE(refused(shape(5, 3, 2, made.key)).find("'vocab 4' where this run has 'vocab 5'"), std::string::npos);

  const std::string bytes = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 1);
  e = refused(made);
  EXPECT_NE(e.find(path + ": truncated KL base file: " + std::to_string(bytes.size() - 1) + " bytes where its "
                          "header promises " + std::to_string(bytes.size())),
            std::string::npos)
      << e;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, 20);
  EXPECT_NE(refused(made).find("truncated KL base header"), std::string::npos) << refused(made);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "sqsim-calibration 1\nxxxxxxxxxxxxxxxxxxxxxxx\n";
  EXPECT_NE(refused(made).find(path + ": not a KL base file"), std::string::npos) << refused(made);
  std::remove(path.c_str());
  EXPECT_NE(refused(made).find(path + ": cannot read the KL base file"), std::string::npos);
}

TEST(PplUncertainty, TokenEstimatorMatchesTheStderrOverAllTokens) {
  // Hand-computed: tokens {1, 2} and {3, 4}: mean 2.5, sample variance 5/3,
  // stderr sqrt(5/3 / 4).
  PplUncertainty u = ppl_uncertainty({1.5, 3.5}, {1 + 4, 9 + 16}, 2);
  EXPECT_EQ(u.estimator, PplUncertainty::kToken);
  EXPECT_NEAR(u.nll.mean, 2.5, 1e-15);
  EXPECT_NEAR(u.nll.stderr_, std::sqrt(5.0 / 3.0 / 4.0), 1e-12);
  EXPECT_NEAR(u.ppl.mean, std::exp(2.5), 1e-12);
  EXPECT_NEAR(u.ppl.stderr_, std::exp(2.5) * std::sqrt(5.0 / 12.0), 1e-10);
  EXPECT_EQ(u.nll.n, 4u);

  // Random windows: the same as mean_stderr / perplexity_from_nll over every token.
  std::mt19937 rng(11);
  std::gamma_distribution<double> g(2.0, 1.5);
  std::vector<double> all, means, sums;
  for (int w = 0; w < 7; ++w) {
    std::vector<double> tok;
    for (int t = 0; t < 63; ++t) tok.push_back(g(rng));
    const WindowNll x = window_nll(tok);
    means.push_back(x.mean);
    sums.push_back(x.sumsq);
    all.insert(all.end(), tok.begin(), tok.end());
  }
  u = ppl_uncertainty(means, sums, 63);
  const MeanStderr ref = perplexity_from_nll(all);
  EXPECT_NEAR(u.ppl.mean, ref.mean, 1e-12 * ref.mean);
  EXPECT_NEAR(u.ppl.stderr_, ref.stderr_, 1e-9 * ref.stderr_);

  // A window without its sum (an older journal line): the window estimator.
  sums[3] = std::numeric_limits<double>::quiet_NaN();
  u = ppl_uncertainty(means, sums, 63);
  EXPECT_EQ(u.estimator, PplUncertainty::kWindow);
  EXPECT_NEAR(u.nll.stderr_, mean_stderr(means).stderr_, 1e-15);
  EXPECT_EQ(u.nll.n, 7u);
  EXPECT_STREQ(estimator_name(u.estimator), "window");
  // One window and no sums: nothing to estimate from.
  EXPECT_EQ(ppl_uncertainty({2.0}, {std::numeric_limits<double>::quiet_NaN()}, 63).estimator, PplUncertainty::kNone);
}
