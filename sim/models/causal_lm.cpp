#include "sim/models/causal_lm.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <sys/stat.h>

#include "base/error.h"
#include "base/paths.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/hf_checkpoint.h"
#include "sim/models/llama_model.h"
#include "sim/models/opt_model.h"

namespace sqsim {

namespace {
std::string S(long v) { return std::to_string(v); }
}  // namespace

std::unique_ptr<LinearLayer> CausalLm::swap_linear(std::unique_ptr<LinearLayer>& s, std::unique_ptr<LinearLayer> layer,
                                                   const std::string& n) {
  if (!layer) throw Error("replace_linear " + n + ": null layer");
  if (layer->in_features() != s->in_features() || layer->out_features() != s->out_features())
    throw Error("replace_linear " + n + ": layer is " + S(layer->out_features()) + "x" + S(layer->in_features()) +
                ", expected " + S(s->out_features()) + "x" + S(s->in_features()));
  std::swap(s, layer);
  return layer;
}

LoadedModel load_model(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return load_hf_checkpoint(path);
  LoadedModel m;
  m.path = path;
  std::string arch;
  {
    const GgufFile g = GgufFile::open(path);
    arch = g.get_string("general.architecture");
    if (arch != "llama" && arch != "opt")
      throw Error(path + ": architecture '" + arch + "' is not supported (expected llama or opt)");
    m.tokenizer = std::make_unique<BpeTokenizer>(tokenizer_from_gguf(g));
    int32_t bos = -1;
    if (gguf_adds_bos(g, &bos)) m.bos = bos;
  }
  if (arch == "opt")
    m.model = std::make_unique<OptModel>(OptModel::load_gguf(path));
  else
    m.model = std::make_unique<LlamaModel>(LlamaModel::load_gguf(path));
  if (m.bos && (*m.bos < 0 || *m.bos >= m.model->vocab_size()))
    throw Error(path + ": tokenizer.ggml.bos_token_id " + S(*m.bos) + " is outside the vocabulary of " +
                S(m.model->vocab_size()));
  return m;
}

std::vector<int32_t> tokenize_document(const LoadedModel& m, const std::string& text) {
  std::vector<int32_t> ids;
  if (m.bos) ids.push_back(*m.bos);
  const std::vector<int32_t> enc = m.tokenizer->encode(text);
  ids.insert(ids.end(), enc.begin(), enc.end());
  return ids;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read text file " + path + missing_file_hint(path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string raw = ss.str();
  std::string text;
  text.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i)
    if (!(raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n')) text += raw[i];
  return text;
}

// ---------------------------------------------------------------- perplexity

double mean_next_token_nll(const MatrixF& logits, const std::vector<int32_t>& tokens) {
  const long L = long(tokens.size());
  if (logits.rows() != L || L < 2) throw Error("mean_next_token_nll: need >= 2 tokens and one logits row each");
  // Rows in parallel (each row's NLL is computed the same way on any thread),
  // then summed in row order: the result does not depend on the thread count.
  std::vector<double> row_nll(size_t(L - 1));
  tbb::parallel_for(tbb::blocked_range<long>(0, L - 1, 16), [&](const tbb::blocked_range<long>& range) {
    for (long t = range.begin(); t < range.end(); ++t) {
      const float* r = logits.row(t).data();
      double mx = -std::numeric_limits<double>::infinity();
      for (long j = 0; j < logits.cols(); ++j) mx = std::max(mx, double(r[j]));
      double sum = 0.0;
      for (long j = 0; j < logits.cols(); ++j) sum += std::exp(double(r[j]) - mx);
      row_nll[size_t(t)] = -(double(r[tokens[t + 1]]) - mx - std::log(sum));
    }
  });
  double total = 0.0;
  for (const double v : row_nll) total += v;
  return total / double(L - 1);
}

PerplexityResult perplexity(const CausalLm& m, const std::vector<int32_t>& ids, int seq_len,
                            const std::function<void(size_t, size_t, double)>& progress,
                            const std::vector<double>& known_window_nll) {
  if (seq_len < 2) throw Error("perplexity: seq-len must be at least 2, got " + S(seq_len));
  PerplexityResult r;
  r.windows = ids.size() / size_t(seq_len);
  if (r.windows == 0)
    throw Error("perplexity: " + S(long(ids.size())) + " tokens do not fill one window of " + S(seq_len));
  r.tokens = r.windows * size_t(seq_len);
  if (known_window_nll.size() > r.windows)
    throw Error("perplexity: " + S(long(known_window_nll.size())) + " windows already measured, but the text has " +
                S(long(r.windows)));
  double sum = 0.0;
  for (size_t w = 0; w < r.windows; ++w) {
    if (w < known_window_nll.size()) {
      r.window_nll.push_back(known_window_nll[w]);
      sum += known_window_nll[w];
      continue;
    }
    const std::vector<int32_t> win(ids.begin() + long(w * seq_len), ids.begin() + long((w + 1) * seq_len));
    const double nll = mean_next_token_nll(m.forward(win), win);
    r.window_nll.push_back(nll);
    sum += nll;
    if (progress) progress(w, r.windows, nll);
  }
  r.mean_nll = sum / double(r.windows);
  r.ppl = std::exp(r.mean_nll);
  return r;
}

}  // namespace sqsim
