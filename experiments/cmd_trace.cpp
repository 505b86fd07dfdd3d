// sqsim trace: run a model over calibration text and write what every linear
// layer saw as a trace file (docs/trace-format.md), for `sqsim sweep` and
// `sqsim outliers` on real activations.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "experiments/calibration_ranks.h"
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/interrupt.h"
#include "experiments/model_layers.h"
#include "base/error.h"
#include "base/io.h"
#include "sim/eval/calibration.h"
#include "sim/models/load_model.h"
#include "sim/eval/quantize_model.h"
#include "sim/formats/trace_file.h"

namespace sqsim::cli {

namespace {

struct TraceJob {
  std::string model, text;
  long rows = 512;  // input rows kept per layer
  int windows = 32, seq_len = 512;
  unsigned long long seed = 0;
  std::string layers = "*";
  int threads = 0;
  OutputOptions output;  // the trace file
};

// The layers of `select` (sorted by name): float weight and bias, the sampled
// input rows and input absmax of `stats`, and the smoothing group of those that
// read one norm's output (OPT's fc1 forms a group of one).
TraceFile traces_from_calibration(const CausalLm& model, const CalibrationStats& stats, const std::string& select) {
  ModelQuantConfig selection;  // only its layer globs are used
  selection.layers = select;
  std::map<std::string, std::string> group_of;
  for (const SmoothGroup& g : model.smooth_groups())
    for (const std::string& n : g.layers) group_of[n] = g.norm;
  TraceFile t;
  for (const std::string& n : selected_layers(model, selection)) {
    const FloatLinear& f = float_linear(model, n);
    LayerTrace l;
    l.name = n;
    l.weight = f.weight();
    if (f.bias().size()) l.bias = f.bias();
    const LayerInputStats& s = stats.at(n);
    l.input = s.sample;
    l.input_absmax = s.absmax;
    const auto g = group_of.find(n);
    if (g != group_of.end()) l.smooth_group = g->second;
    t.layers.push_back(std::move(l));
  }
  std::sort(t.layers.begin(), t.layers.end(), [](const LayerTrace& a, const LayerTrace& b) { return a.name < b.name; });
  return t;
}

int run_trace_job(const TraceJob& job) {
  // Under mpirun the windows are split over the ranks (docs/mpi.md); each
  // rank loads the model and the text itself, and only rank 0 writes.
  const Ranks& ranks = Ranks::world();
  ranks.all_or_none([&] {
    if (job.rows < 1) throw Error("--tokens must be at least 1");
    if (job.windows < 1) throw Error("--windows must be at least 1");
    if (job.seq_len < 1) throw Error("--seq-len must be at least 1");
    if (job.rows > long(job.windows) * job.seq_len)
      throw Error("--tokens " + std::to_string(job.rows) + ": more rows than the calibration windows hold (" +
                  std::to_string(long(job.windows) * job.seq_len) + ")");
    if (ranks.root()) prepare_output_file(job.output);
  });
  install_interrupt_handlers();
  const auto limit = thread_limit(job.threads);
  std::unique_ptr<LoadedModel> m;
  std::vector<int32_t> ids;
  ranks.all_or_none([&] {
    m = std::make_unique<LoadedModel>(load_model(job.model));
    ids = tokenize_document(*m, read_text_file(job.text));
    calibration_windows(ids, job.seq_len, 1, job.seed);  // the text's length checked on every rank
  });
  CalibrationOptions co;
  co.sample_rows = job.rows;
  co.progress = [&](size_t done, size_t all) {
    if (const int sig = interrupt_signal()) throw Interrupted(sig, "stopped between windows; no trace file written");
    std::fprintf(stderr, "trace: window %zu/%zu%s\n", done, all, ranks.distributed() ? " of rank 0's share" : "");
  };
  size_t sent = 0;
  const CalibrationStats stats =
      calibrate_on_ranks(ranks, *m->model, calibration_windows(ids, job.seq_len, job.windows, job.seed), co, &sent);
  if (!ranks.root()) return 0;
  if (ranks.distributed())
    std::fprintf(stderr, "trace: %d ranks; gathered %zu bytes from the others\n", ranks.size(), sent);
  TraceFile t = traces_from_calibration(*m->model, stats, job.layers);
  t.model = job.model;
  write_trace_file(job.output.out, t);
  std::fprintf(stderr, "trace: %zu layers, %ld input rows each, absmax over %ld tokens -> %s\n", t.layers.size(),
               long(t.layers.front().input.rows()), long(job.windows) * job.seq_len, job.output.out.c_str());
  return 0;
}

}  // namespace

int run_trace(int argc, char** argv) {
  po::options_description o("trace");
  o.add_options()("model", po::value<std::string>()->required(), "GGUF model file or Hugging Face checkpoint folder")(
      "text", po::value<std::string>()->required(), "calibration text (e.g. ${SQSIM_DATA}/ptb/ptb.valid.txt)")(
      "tokens", po::value<long>()->default_value(512), "input rows kept per layer (spread over the windows)")(
      "windows", po::value<int>()->default_value(32), "calibration windows (input_absmax covers all of them)")(
      "seq-len", po::value<int>()->default_value(512), "tokens per window")(
      "seed", po::value<unsigned long long>()->default_value(0), "seed of the window start positions")(
      "layers", po::value<std::string>()->default_value("*"), "comma-separated globs over linear layer names");
  add_output_options(o, "trace file to write (HDF5, format v1)", /*resumable=*/false);
  add_run_options(o, /*engine=*/false);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim trace --model PATH --text FILE --out FILE.h5 [--tokens 512] [--windows 32] "
             "[--seq-len 512]\n\n"
             "Runs the float model over --windows windows of --seq-len tokens of the text (starts drawn with a\n"
             "fixed seed) and writes, for every linear layer: its weight (and bias), --tokens rows of its input,\n"
             "input_absmax over every calibration token, and smooth_group for layers that read one norm's output\n"
             "(q/k/v, gate/up; OPT: q/k/v, fc1).",
             o, vm))
    return 0;
  TraceJob job;
  job.model = vm["model"].as<std::string>();
  job.text = vm["text"].as<std::string>();
  job.rows = vm["tokens"].as<long>();
  job.windows = vm["windows"].as<int>();
  job.seq_len = vm["seq-len"].as<int>();
  job.seed = vm["seed"].as<unsigned long long>();
  job.layers = vm["layers"].as<std::string>();
  job.threads = run_options(vm).threads;
  job.output = output_options(vm);
  return run_trace_job(job);
}

}  // namespace sqsim::cli
