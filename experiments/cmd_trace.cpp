// sqsim trace: run a model over calibration text and write what every linear
// layer saw as a trace file (docs/trace-format.md), for `sqsim sweep` and
// `sqsim outliers` on real activations.
#include <tbb/global_control.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/interrupt.h"
#include "base/error.h"
#include "base/io.h"
#include "sim/eval/calibration.h"
#include "sim/models/load_model.h"
#include "sim/eval/quantize_model.h"
#include "sim/formats/trace_file.h"

namespace sqsim::cli {

int run_trace(int argc, char** argv) {
  po::options_description o("trace");
  o.add_options()("model", po::value<std::string>()->required(), "GGUF model file or Hugging Face checkpoint folder")(
      "text", po::value<std::string>()->required(), "calibration text (e.g. ${SQSIM_DATA}/ptb/ptb.valid.txt)")(
      "tokens", po::value<long>()->default_value(512), "input rows kept per layer (spread over the windows)")(
      "windows", po::value<int>()->default_value(32), "calibration windows (input_absmax covers all of them)")(
      "seq-len", po::value<int>()->default_value(512), "tokens per window")(
      "seed", po::value<unsigned long long>()->default_value(0), "seed of the window start positions")(
      "layers", po::value<std::string>()->default_value("*"), "comma-separated globs over linear layer names")(
      "out", po::value<std::string>()->required(), "trace file to write (HDF5, format v1)")(
      "force", po::bool_switch(), "replace an existing --out file")(
      "threads", po::value<int>()->default_value(0), "worker threads (0 = all cores)");
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
  install_interrupt_handlers();
  const int threads = vm["threads"].as<int>();
  if (threads < 0) throw Error("--threads must be >= 0");
  std::unique_ptr<tbb::global_control> gc;
  if (threads > 0) gc = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
  const long rows = vm["tokens"].as<long>();
  const int windows = vm["windows"].as<int>(), seq_len = vm["seq-len"].as<int>();
  if (rows < 1) throw Error("--tokens must be at least 1");
  if (windows < 1) throw Error("--windows must be at least 1");
  if (seq_len < 1) throw Error("--seq-len must be at least 1");
  if (rows > long(windows) * seq_len)
    throw Error("--tokens " + std::to_string(rows) + ": more rows than the calibration windows hold (" +
                std::to_string(long(windows) * seq_len) + ")");
  const std::string out = vm["out"].as<std::string>();
  if (!vm["force"].as<bool>() && std::ifstream(out))
    throw Error("--out " + out + ": exists (use --force to replace it)");

  LoadedModel m = load_model(vm["model"].as<std::string>());
  const std::vector<int32_t> ids = tokenize_document(m, read_text_file(vm["text"].as<std::string>()));
  CalibrationOptions co;
  co.sample_rows = rows;
  co.progress = [&](size_t done, size_t all) {
    if (const int sig = interrupt_signal())
      throw Interrupted(sig, "stopped between windows; no trace file written");
    std::fprintf(stderr, "trace: window %zu/%zu\n", done, all);
  };
  const CalibrationStats stats =
      calibrate(*m.model, calibration_windows(ids, seq_len, windows, vm["seed"].as<unsigned long long>()), co);

  ModelQuantConfig select;  // only its layer globs are used
  select.layers = vm["layers"].as<std::string>();
  std::map<std::string, std::string> group_of;
  for (const SmoothGroup& g : m.model->smooth_groups())  // OPT's fc1 forms a group of one
    for (const std::string& n : g.layers) group_of[n] = g.norm;
  TraceFile t;
  t.model = vm["model"].as<std::string>();
  for (const std::string& n : selected_layers(*m.model, select)) {
    const auto* f = dynamic_cast<const FloatLinear*>(&m.model->linear(n));
    if (!f) throw Error(n + ": not a float layer");
    LayerTrace l;
    l.name = n;
    l.weight = f->weight();
    if (f->bias().size()) l.bias = f->bias();
    const LayerInputStats& s = stats.at(n);
    l.input = s.sample;
    l.input_absmax = s.absmax;
    const auto g = group_of.find(n);
    if (g != group_of.end()) l.smooth_group = g->second;
    t.layers.push_back(std::move(l));
  }
  std::sort(t.layers.begin(), t.layers.end(), [](const LayerTrace& a, const LayerTrace& b) { return a.name < b.name; });
  write_trace_file(out, t);
  std::fprintf(stderr, "trace: %zu layers, %ld input rows each, absmax over %ld tokens -> %s\n", t.layers.size(),
               long(t.layers.front().input.rows()), long(windows) * seq_len, out.c_str());
  return 0;
}

}  // namespace sqsim::cli
