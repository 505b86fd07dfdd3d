// sqsim ppl: perplexity of a GGUF Llama model on a text file (float32 forward).
#include <tbb/global_control.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/interrupt.h"
#include "quant/error.h"
#include "sim/causal_lm.h"

namespace sqsim::cli {

namespace {
// Thrown from the progress callback to leave perplexity() between windows.
struct Interrupted {
  size_t windows_done;
  size_t windows;
};

int report_interrupt(size_t done, size_t total) {
  const int sig = interrupt_signal();
  std::cerr << "sqsim ppl: interrupted by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " after " << done << "/"
            << total << " windows; no perplexity printed\n";
  return 128 + sig;
}
}  // namespace

int run_ppl(int argc, char** argv) {
  po::options_description o("ppl");
  o.add_options()("model", po::value<std::string>()->required(), "GGUF model file (llama architecture)")(
      "text", po::value<std::string>()->required(), "UTF-8 text file (CRLF is normalized to LF)")(
      "seq-len", po::value<int>()->default_value(2048), "window length in tokens (non-overlapping windows)")(
      "max-tokens", po::value<long>()->default_value(0), "use only the first N tokens (0 = all)")(
      "threads", po::value<int>()->default_value(0), "worker threads (0 = all cores)")(
      "json", po::bool_switch(), "print one JSON object instead of text");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim ppl --model FILE.gguf --text FILE [--seq-len 2048] [--max-tokens N] [--threads N] "
             "[--json]\n\n"
             "Tokenizes the whole text once (BOS only when the GGUF asks for it), splits it into\n"
             "non-overlapping windows of seq-len tokens (remainder dropped) and prints\n"
             "ppl = exp(mean over windows of the mean NLL of tokens 1..L-1).",
             o, vm))
    return 0;
  const auto t0 = std::chrono::steady_clock::now();
  // SIGINT / SIGTERM stop the run between windows (a second one kills at once).
  install_interrupt_handlers();
  const int threads = vm["threads"].as<int>();
  if (threads < 0) throw Error("--threads must be >= 0");
  std::unique_ptr<tbb::global_control> gc;
  if (threads > 0) gc = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
  const int seq_len = vm["seq-len"].as<int>();
  const long max_tokens = vm["max-tokens"].as<long>();
  if (seq_len < 2) throw Error("--seq-len must be at least 2");
  if (max_tokens < 0) throw Error("--max-tokens must be >= 0");

  const std::string text_path = vm["text"].as<std::string>();
  const std::string text = read_text_file(text_path);
  const std::string model_path = vm["model"].as<std::string>();
  const LoadedModel loaded = load_model(model_path);
  std::vector<int32_t> ids = tokenize_document(loaded, text);
  const size_t all_tokens = ids.size();
  if (max_tokens > 0 && ids.size() > size_t(max_tokens)) ids.resize(size_t(max_tokens));
  std::cerr << "ppl: " << all_tokens << " tokens in " << text_path << ", using " << ids.size() << "\n";
  const CausalLm& model = *loaded.model;
  if (interrupt_signal()) return report_interrupt(0, ids.size() / size_t(seq_len));
  const auto t1 = std::chrono::steady_clock::now();
  PerplexityResult r;
  try {
    r = perplexity(model, ids, seq_len, [&](size_t w, size_t n, double nll) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      std::fprintf(stderr, "window %zu/%zu: nll %.6f (ppl %.4f), %.1f s\n", w + 1, n, nll, std::exp(nll), s);
      if (interrupt_signal()) throw Interrupted{w + 1, n};
    });
  } catch (const Interrupted& i) {
    return report_interrupt(i.windows_done, i.windows);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (vm["json"].as<bool>()) {
    std::printf("{\"ppl\": %.6f, \"tokens\": %zu, \"windows\": %zu, \"seq_len\": %d, \"seconds\": %.3f}\n", r.ppl,
                r.tokens, r.windows, seq_len, secs);
  } else {
    std::printf("perplexity: %.6f (mean nll %.6f) over %zu windows of %d tokens (%zu tokens), %.1f s\n", r.ppl,
                r.mean_nll, r.windows, seq_len, r.tokens, secs);
  }
  return 0;
}

}  // namespace sqsim::cli
