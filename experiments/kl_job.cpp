#include "experiments/kl_job.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/io.h"
#include "experiments/format.h"
#include "experiments/csv.h"
#include "experiments/interrupt.h"
#include "experiments/journal.h"
#include "experiments/json_writer.h"
#include "experiments/ranks.h"
#include "experiments/sha256.h"
#include "sim/eval/kl_base_file.h"
#include "sim/eval/perplexity.h"

namespace sqsim::cli {

std::string model_sha256(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(path)) return sha256_file(path);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path))
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::string lines;
  for (const std::string& n : names) lines += n + " " + sha256_file(path + "/" + n) + "\n";
  return sha256_hex(lines);
}

std::string kl_base_key(const std::string& model_digest, const std::vector<int32_t>& ids) {
  std::string bytes(ids.size() * 4, '\0');
  for (size_t i = 0; i < ids.size(); ++i)
    for (int b = 0; b < 4; ++b) bytes[4 * i + size_t(b)] = static_cast<char>((uint32_t(ids[i]) >> (8 * b)) & 0xFF);
  return "model sha256 " + model_digest + "\ntokens sha256 " + sha256_hex(bytes) + "\n";
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void check_kl_job(const PplJob& job) {
  if (job.max_tokens < 0) throw Error("--max-tokens must be >= 0");
  if (job.seq_len < 2) throw Error("--seq-len must be at least 2");
  if (job.alphas.size() != 1) throw Error("--kl-base: one --alpha (a value, 'search' or 'per-layer'), not a list");
  if (Ranks::world().distributed()) throw Error("--kl-base: runs in one process, not under MPI");
  if (!job.kl_base_save.empty() && !job.kl_base.empty() && job.kl_base != "fp")
    throw Error("--kl-base-save: the base is the float model; use it with --kl-base fp or without --kl-base");
}

// KL rows of one window in parallel (each row on its own, so the result does
// not depend on the thread count).
std::vector<TokenKl> window_rows(const MatrixF& base, const MatrixF& quant, const std::vector<int32_t>& win) {
  std::vector<TokenKl> out(win.size() - 1);
  tbb::parallel_for(tbb::blocked_range<size_t>(0, out.size(), 16), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t t = r.begin(); t < r.end(); ++t)
      out[t] = token_kl(base.row(long(t)).data(), quant.row(long(t)).data(), base.cols(), win[t + 1]);
  });
  return out;
}

// One window's scored tokens: what the statistics are computed from.
struct WindowKl {
  std::vector<TokenKl> rows;
  std::vector<double> nll_quant, nll_base;
};

// A window as journal fields (journal.h): six space-separated lists, one
// value per scored token, the doubles exact so a resumed run computes the
// statistics an uninterrupted run does, bit for bit.
std::vector<std::string> window_fields(const WindowKl& w) {
  std::vector<std::string> f(6);
  for (size_t t = 0; t < w.rows.size(); ++t) {
    const char* sep = t ? " " : "";
    f[0] += sep + exact(w.rows[t].kl);
    f[1] += sep + std::string(w.rows[t].same_top1 ? "1" : "0");
    f[2] += sep + exact(w.rows[t].p_base);
    f[3] += sep + exact(w.rows[t].p_quant);
    f[4] += sep + exact(w.nll_quant[t]);
    f[5] += sep + exact(w.nll_base[t]);
  }
  return f;
}

WindowKl window_from_fields(const std::vector<std::string>& f, size_t tokens, const std::string& where) {
  if (f.size() != 6) throw Error(where + ": expected 6 fields of a KL window, got " + std::to_string(f.size()));
  std::vector<std::vector<double>> cols(6);
  for (size_t c = 0; c < 6; ++c) {
    size_t at = 0;
    while (at < f[c].size()) {
      const size_t sp = std::min(f[c].find(' ', at), f[c].size());
      cols[c].push_back(parse_journal_number(f[c].substr(at, sp - at), where));
      at = sp + 1;
    }
    if (cols[c].size() != tokens)
      throw Error(where + ": field " + std::to_string(c + 2) + " holds " + std::to_string(cols[c].size()) +
                  " values, expected " + std::to_string(tokens));
  }
  WindowKl w;
  for (size_t t = 0; t < tokens; ++t) {
    TokenKl k;
    k.kl = cols[0][t];
    k.same_top1 = cols[1][t] != 0;
    k.p_base = cols[2][t];
    k.p_quant = cols[3][t];
    w.rows.push_back(k);
  }
  w.nll_quant = std::move(cols[4]);
  w.nll_base = std::move(cols[5]);
  return w;
}

struct KlResult {
  KlStats kl;
  MeanStderr ppl, base_ppl, ratio;
  size_t windows = 0;
  std::string alpha_text, base_name;
  double seconds = 0;
};

void print_kl(const PplJob& job, const KlResult& r) {
  const KlStats& k = r.kl;
  if (job.json) {
    JsonWriter w(JsonWriter::kOneLine);
    w.begin_object().member("quant", job.config.name).member("alpha", r.alpha_text).member("base", r.base_name);
    w.member("tokens", k.tokens).member("windows", r.windows).member("seq_len", job.seq_len);
    w.key("kl_mean").number(k.kl.mean, "%.9g").key("kl_stderr").number(k.kl.stderr_, "%.6g");
    w.key("kl_median").number(k.median, "%.6g").key("kl_p90").number(k.p90, "%.6g");
    w.key("kl_p95").number(k.p95, "%.6g").key("kl_p99").number(k.p99, "%.6g").key("kl_max").number(k.max, "%.6g");
    w.key("same_top1").number(k.same_top1.mean, "%.6g").key("same_top1_stderr").number(k.same_top1.stderr_, "%.6g");
    w.key("delta_p").number(k.delta_p.mean, "%.6g").key("delta_p_stderr").number(k.delta_p.stderr_, "%.6g");
    w.key("ppl").number(r.ppl.mean, "%.6f").key("ppl_stderr").number(r.ppl.stderr_, "%.6f");
    w.key("base_ppl").number(r.base_ppl.mean, "%.6f").key("base_ppl_stderr").number(r.base_ppl.stderr_, "%.6f");
    w.key("ppl_ratio").number(r.ratio.mean, "%.6f").key("ppl_ratio_stderr").number(r.ratio.stderr_, "%.6f");
    std::printf("%s\n", w.key("seconds").number(r.seconds, "%.3f").end_object().str().c_str());
  } else {
    std::printf("%s alpha %s vs %s: KL mean %.6g ± %.2g, median %.4g, p90 %.4g, p95 %.4g, p99 %.4g, max %.4g; "
                "same top-1 %.3f ± %.3f %%; correct-token dp %.4f ± %.4f %%; ppl %.4f ± %.4f (base %.4f ± %.4f, "
                "ratio %.5f ± %.5f) over %zu tokens (%zu windows of %d), %.1f s\n",
                job.config.name.c_str(), r.alpha_text.c_str(), r.base_name.c_str(), k.kl.mean, k.kl.stderr_, k.median,
                k.p90, k.p95, k.p99, k.max, 100 * k.same_top1.mean, 100 * k.same_top1.stderr_, 100 * k.delta_p.mean,
                100 * k.delta_p.stderr_, r.ppl.mean, r.ppl.stderr_, r.base_ppl.mean, r.base_ppl.stderr_, r.ratio.mean,
                r.ratio.stderr_, k.tokens, r.windows, job.seq_len, r.seconds);
  }
  std::fflush(stdout);
}

// With --out: DIR/kl.csv, the statistics as one row (the printed numbers).
void write_kl_csv(const PplJob& job, const KlResult& r) {
  const KlStats& k = r.kl;
  CsvTable t{{"quant", "alpha", "base", "tokens", "windows", "seq_len", "kl_mean", "kl_stderr", "kl_median", "kl_p90",
              "kl_p95", "kl_p99", "kl_max", "same_top1", "same_top1_stderr", "delta_p", "delta_p_stderr", "ppl",
              "ppl_stderr", "base_ppl", "base_ppl_stderr", "ppl_ratio", "ppl_ratio_stderr"},
             {}};
  t.rows.push_back({job.config.name, r.alpha_text, r.base_name, std::to_string(k.tokens), std::to_string(r.windows),
                    std::to_string(job.seq_len), significant(k.kl.mean, 9), significant(k.kl.stderr_, 6),
                    significant(k.median, 6), significant(k.p90, 6), significant(k.p95, 6), significant(k.p99, 6),
                    significant(k.max, 6), significant(k.same_top1.mean, 6), significant(k.same_top1.stderr_, 6),
                    significant(k.delta_p.mean, 6), significant(k.delta_p.stderr_, 6), significant(r.ppl.mean, 8),
                    significant(r.ppl.stderr_, 6), significant(r.base_ppl.mean, 8), significant(r.base_ppl.stderr_, 6),
                    significant(r.ratio.mean, 8), significant(r.ratio.stderr_, 6)});
  write_file_atomic(job.output.out + "/kl.csv", to_csv(t));
}

}  // namespace

int run_kl_job(const PplJob& job) {
  check_kl_job(job);
  install_interrupt_handlers();
  const auto limit = thread_limit(job.threads);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& out = job.output.out;
  if (!out.empty()) prepare_output_dir(job.output, true);
  QuantEvaluator ev(job.eval);
  std::vector<int32_t> ids = ev.tokenize_file(job.text, job.max_tokens);
  const size_t windows = ids.size() / size_t(job.seq_len);
  if (windows == 0)
    throw Error("--text " + job.text + ": " + std::to_string(ids.size()) + " tokens do not fill one window of " +
                std::to_string(job.seq_len));
  ids.resize(windows * size_t(job.seq_len));
  const CausalLm& fp = *ev.float_model().model;
  KlBaseShape shape;
  shape.seq_len = job.seq_len;
  shape.windows = windows;
  const std::string model_digest = model_sha256(job.eval.model_path);
  shape.key = kl_base_key(model_digest, ids);
  const bool from_file = !job.kl_base.empty() && job.kl_base != "fp";
  shape.vocab = fp.vocab_size();
  // A mismatched base file is refused before any model work or output.
  std::unique_ptr<KlBaseReader> reader;
  if (from_file) reader = std::make_unique<KlBaseReader>(job.kl_base, shape);
  // The journal: the base is part of the settings (a base file by its
  // sha256, so another file of the same name is refused on --resume).
  std::unique_ptr<Journal> journal;
  if (!out.empty())
    journal = std::make_unique<Journal>(
        out + "/" + Journal::kFileName,
        "model sha256 " + model_digest + "\ntext tokens " + std::to_string(ids.size()) + "\nkl base " +
            (from_file ? "file sha256 " + sha256_file(job.kl_base) : std::string("fp")) + "\n" + job.settings,
        job.output.resume);
  const auto key = [](size_t w) { return "window " + std::to_string(w); };
  // Journaled windows are read (and a damaged line refused) before any work.
  std::vector<std::unique_ptr<WindowKl>> done(windows);
  size_t journaled = 0;
  for (size_t w = 0; journal && w < windows; ++w)
    if (const std::vector<std::string>* f = journal->find(key(w))) {
      done[w] = std::make_unique<WindowKl>(window_from_fields(*f, size_t(job.seq_len) - 1, journal->where(key(w))));
      ++journaled;
    }
  if (const std::vector<std::string>* a = journal ? journal->find("alpha") : nullptr; a && a->size() != 1)
    throw Error(journal->where("alpha") + ": expected one field, the alpha text");
  std::unique_ptr<KlBaseWriter> writer;
  if (!job.kl_base_save.empty()) writer = std::make_unique<KlBaseWriter>(job.kl_base_save, shape);
  std::cerr << "ppl: " << ids.size() << " tokens of " << job.text << "; " << job.config.name << ": "
            << job.config.describe() << "; KL against " << (from_file ? job.kl_base : std::string("fp")) << "\n";
  // The preset is prepared (calibrated) only when a window is left to run.
  std::unique_ptr<QuantEvaluator::Prepared> p;
  std::vector<TokenKl> all;
  std::vector<double> nll_q, nll_b;
  const auto prepare = [&] {
    p = std::make_unique<QuantEvaluator::Prepared>(ev.prepare(job.config, job.alphas[0], job.config.name));
    if (journal && !journal->find("alpha")) journal->append("alpha", {p->head.alpha_text});
  };
  // Every window journaled but not the α (a journal cut right after its
  // windows): the preset is prepared again to know it.
  if (journaled == windows && !journal->find("alpha")) prepare();
  for (size_t w = 0; w < windows; ++w) {
    const std::vector<int32_t> win(ids.begin() + long(w * size_t(job.seq_len)),
                                   ids.begin() + long((w + 1) * size_t(job.seq_len)));
    WindowKl wk;
    if (done[w]) {
      wk = std::move(*done[w]);
      if (writer) writer->add_window(fp.forward(win));  // the base file needs every window
    } else {
      if (!p) prepare();
      const CausalLm& quant = ev.model_of(*p);
      const MatrixF q = quant.forward(win);
      MatrixF base;
      if (from_file) {
        base = reader->window(w);
      } else {
        base = &quant == &fp ? q : fp.forward(win);
        if (writer) writer->add_window(base);
        wk.nll_base = next_token_nll(base, win);
      }
      wk.rows = window_rows(base, q, win);
      if (from_file)
        for (const TokenKl& t : wk.rows) wk.nll_base.push_back(-std::log(t.p_base));
      wk.nll_quant = next_token_nll(q, win);
      if (journal) journal->append(key(w), window_fields(wk));
    }
    all.insert(all.end(), wk.rows.begin(), wk.rows.end());
    nll_q.insert(nll_q.end(), wk.nll_quant.begin(), wk.nll_quant.end());
    nll_b.insert(nll_b.end(), wk.nll_base.begin(), wk.nll_base.end());
    if (!ev.options().quiet) {
      double kl = 0;
      for (const TokenKl& t : wk.rows) kl += t.kl;
      std::fprintf(stderr, "%s: window %zu/%zu mean KL %.6g%s, %.1f s\n", job.config.name.c_str(), w + 1, windows,
                   kl / double(wk.rows.size()), done[w] ? " (journaled)" : "", seconds_since(t0));
    }
    if (const int sig = interrupt_signal())
      throw Interrupted(sig, journal ? "stopped between windows; --resume continues from " + journal->path()
                                     : "stopped between windows; no KL was printed");
  }
  if (journaled) std::cerr << "ppl: " << journaled << " of " << windows << " windows read from the journal\n";
  if (writer) {
    writer->finish();
    std::cerr << "ppl: KL base written to " << job.kl_base_save << "\n";
  }
  KlResult r;
  r.kl = kl_statistics(all);
  r.ppl = perplexity_from_nll(nll_q);
  r.base_ppl = perplexity_from_nll(nll_b);
  r.ratio = perplexity_ratio(nll_q, nll_b);
  r.windows = windows;
  // Every window journaled: the α chosen then (a search's result) is journaled too.
  r.alpha_text = p ? p->head.alpha_text : journal->find("alpha")->at(0);
  r.base_name = from_file ? job.kl_base : "fp";
  r.seconds = seconds_since(t0);
  print_kl(job, r);
  if (!out.empty()) write_kl_csv(job, r);
  return 0;
}

}  // namespace sqsim::cli
