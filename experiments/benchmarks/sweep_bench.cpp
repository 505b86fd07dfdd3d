// Sweep throughput against the kernel's own throughput (results/sweep-bench/).
//
// For each thread count: (a) run_sweep over synthetic SmolLM2-135M-shaped traces
// (what `sqsim sweep` does, minus reading the trace file and writing the
// journal), and (b) the dispatched integer kernel alone on the same GEMMs: for
// every layer, every (weight spec, activation spec) pair the sweep sends to the
// kernel, called as many times as the sweep calls it (once per alpha), with the
// quantized operands prepared and the weights packed for the kernel
// (kernels/packed_weights.h) before the clock starts: the kernel's own GEMM
// throughput, activation packing included as in any call. Operands come from the
// unsmoothed layer; the kernels' speed does not depend on the values.
// Both phases run under the same TBB thread limit with one kernel call per
// task, as run_sweep does, so (b)/(a) is the share of the sweep's time spent in
// the kernel.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "experiments/cli.h"
#include "experiments/process_memory.h"
#include "experiments/quant_options.h"
#include "experiments/sweep.h"
#include "kernels/gemm.h"
#include "kernels/int_weights.h"
#include "base/error.h"
#include "sim/eval/synthetic_traces.h"

namespace {

using namespace sqsim;
using namespace sqsim::cli;

struct Clock {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = process_cpu();
  static double process_cpu() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
  }
  double wall_s() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count(); }
  double cpu_s() const { return process_cpu() - cpu; }
};

struct Timing {
  double wall = 0, cpu = 0;
};

// One kind of kernel call of one layer: its operands and how often the sweep makes it.
struct KernelCall {
  kernels::Int8Matrix a, w8;
  kernels::Int4Matrix w4;
  kernels::PackedS8Weights p8;
  kernels::PackedS4Weights p4;
  const MatrixF* x = nullptr;  // float activations (W4A16)
  bool int4 = false;
  long count = 0;
};

bool same(const QuantSpec& a, const QuantSpec& b) {
  return a.bits == b.bits && a.symmetric == b.symmetric && a.granularity == b.granularity &&
         a.group_size == b.group_size && a.source == b.source && a.rounding == b.rounding &&
         a.scale_rule == b.scale_rule && a.clamp == b.clamp && a.seed == b.seed;
}

// The kernel calls the sweep makes for one layer, grouped by operand specs.
std::vector<KernelCall> kernel_calls(const LayerTrace& layer, const std::vector<SweepConfig>& configs,
                                     kernels::KernelPath path, long* macs) {
  std::vector<std::pair<const SweepConfig*, long>> kinds;
  for (const SweepConfig& c : configs) {
    const long k = layer.weight.cols();
    if (!c.invalid.empty() || !kernels::integer_path_supports(c.weight, c.act, k) ||
        kernels::padded_reduction_length(c.act, c.weight, k) != k)
      continue;
    try {
      c.weight.validate_shape(layer.weight.rows(), layer.weight.cols(), "weight");
      if (c.act.enabled()) c.act.validate_shape(layer.input.rows(), layer.input.cols(), "input");
    } catch (const Error&) {
      continue;  // a skipped row: no kernel call
    }
    bool found = false;
    for (auto& [k, n] : kinds)
      if (same(k->weight, c.weight) && same(k->act, c.act)) found = (++n, true);
    if (!found) kinds.emplace_back(&c, 1);
  }
  std::vector<KernelCall> out;
  for (const auto& [c, n] : kinds) {
    KernelCall call;
    call.count = n;
    const QuantizedMatrix qw = quantize(layer.weight, c->weight, "bench weight");
    call.int4 = c->weight.bits <= 4 && kernels::int4_representable(c->weight);
    if (call.int4) {
      call.w4 = kernels::to_int4(qw, "bench weight");
      call.p4 = kernels::pack_s4_weights(call.w4, path, kernels::S4Use::kW4A8);
    } else {
      call.w8 = kernels::to_int8(qw, "bench weight");
      call.p8 = kernels::pack_s8_weights(call.w8, path);
    }
    if (c->act.enabled()) {
      call.a = kernels::to_int8(quantize(layer.input, c->act, "bench input"), "bench input");
    } else {
      call.x = &layer.input;
    }
    *macs += n * layer.input.rows() * layer.weight.cols() * layer.weight.rows();
    out.push_back(std::move(call));
  }
  return out;
}

Timing time_kernels(const TraceFile& t, const std::vector<SweepConfig>& configs, kernels::KernelPath path,
                    int threads, long* calls, long* macs) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  Timing total;
  *calls = 0;
  *macs = 0;
  for (const LayerTrace& layer : t.layers) {
    const std::vector<KernelCall> kinds = kernel_calls(layer, configs, path, macs);  // not timed
    std::vector<const KernelCall*> list;
    for (const KernelCall& k : kinds)
      for (long i = 0; i < k.count; ++i) list.push_back(&k);
    *calls += static_cast<long>(list.size());
    const float* bias = layer.bias ? layer.bias->data() : nullptr;
    std::vector<float> sink(list.size());
    const Clock clock;
    tbb::parallel_for(tbb::blocked_range<size_t>(0, list.size(), 1), [&](const tbb::blocked_range<size_t>& r) {
      for (size_t i = r.begin(); i != r.end(); ++i) {
        const KernelCall& k = *list[i];
        const MatrixF y = k.x     ? kernels::linear_f32s4(*k.x, k.p4, bias)
                          : k.int4 ? kernels::linear_s8s4(k.a, k.p4, bias)
                                   : kernels::linear_s8s8(k.a, k.p8, bias);
        sink[i] = y(0, 0);  // keeps the product observable
      }
    });
    total.wall += clock.wall_s();
    total.cpu += clock.cpu_s();
  }
  return total;
}

int run(int argc, char** argv) {
  po::options_description o("sweep_bench");
  o.add_options()("help", "this text")("blocks", po::value<int>()->default_value(3),
                                       "synthetic blocks of 7 layers to time (SmolLM2-135M has 30)")(
      "full-blocks", po::value<int>()->default_value(30), "blocks of the full sweep the timings are scaled to")(
      "tokens", po::value<long>()->default_value(512), "input rows per layer")(
      "threads", po::value<std::string>()->default_value("1,2"), "thread counts to time")(
      "kernel", po::value<std::string>()->default_value("auto"), "auto, reference, avx512-vnni")(
      "skip-kernel", po::bool_switch(), "time the sweep only");
  add_sweep_grid_options(o);
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, o), vm);
  if (vm.count("help")) {
    std::cout << "usage: sweep_bench [options]\n\n" << o << "\n";
    return 0;
  }
  // The benchmark's sweep unless overridden: 21 alphas x (3 weight x 2 activation
  // granularities) x (W8A8, W4A8), every item on the integer kernel.
  const std::vector<std::string> defaults = {"--alpha=none,0:0.95:0.05", "--w-bits=8,4", "--a-bits=8",
                                             "--w-granularity=per-channel,group32,group64",
                                             "--a-granularity=per-token,per-tensor", "--act-scale=dynamic"};
  po::store(po::command_line_parser(defaults).options(o).run(), vm);  // keeps values given on the command line
  po::notify(vm);

  SyntheticTraceSpec spec;
  spec.blocks = vm["blocks"].as<int>();
  spec.tokens = vm["tokens"].as<long>();
  const TraceFile traces = make_synthetic_traces(spec);
  const std::vector<SweepConfig> configs = build_sweep_configs(sweep_grid(vm));
  std::vector<size_t> layers;
  for (size_t i = 0; i < traces.layers.size(); ++i) layers.push_back(i);
  const size_t items = layers.size() * configs.size();
  const double scale = static_cast<double>(vm["full-blocks"].as<int>()) / spec.blocks;
  const kernels::KernelPath path = kernels::parse_kernel_path(vm["kernel"].as<std::string>());
  std::printf("traces: %d blocks x 7 layers = %zu layers, %ld tokens; %zu configurations; %zu items\n", spec.blocks,
              layers.size(), spec.tokens, configs.size(), items);
  std::printf("kernel: %s; full sweep = %d blocks (timings scaled by %.3g)\n",
              kernels::kernel_path_name(kernels::resolve_kernel_path(path)).c_str(), vm["full-blocks"].as<int>(),
              scale);

  std::vector<SweepRow> first_rows;
  for (const std::string& tt : split_list(vm["threads"].as<std::string>(), "--threads")) {
    const int threads = std::stoi(tt);
    RunOptions options;
    options.kernel = path;
    options.threads = threads;
    std::vector<SweepRow> rows(items);
    const Clock clock;
    run_sweep(traces, layers, configs, options, {}, [&](size_t i, const SweepRow& r) { rows[i] = r; },
              [](size_t) {});
    const Timing sweep{clock.wall_s(), clock.cpu_s()};
    if (first_rows.empty()) first_rows = rows;
    const bool same_rows = rows == first_rows;
    std::printf("\nthreads %d\n  sweep : %9.2f s wall %9.2f s cpu  %8.1f items/s  (full sweep: %.1f s)%s\n", threads,
                sweep.wall, sweep.cpu, items / sweep.wall, sweep.wall * scale,
                same_rows ? "" : "  ROWS DIFFER FROM THE FIRST THREAD COUNT");
    if (vm["skip-kernel"].as<bool>()) continue;
    long calls = 0, macs = 0;
    const Timing k = time_kernels(traces, configs, path, threads, &calls, &macs);
    std::printf("  kernel: %9.2f s wall %9.2f s cpu  %8.1f calls/s  %.1f GMAC/s  (%ld calls, full sweep: %.1f s)\n",
                k.wall, k.cpu, calls / k.wall, macs / k.wall * 1e-9, calls, k.wall * scale);
    std::printf("  sweep throughput / kernel throughput: %.3f wall, %.3f cpu%s\n", k.wall / sweep.wall,
                k.cpu / sweep.cpu,
                static_cast<size_t>(calls) == items ? "" : "  (not every item is a kernel call: ratio of times)");
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  sqsim::cli::keep_freed_memory_in_process();  // as the sqsim tool does
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sweep_bench: " << e.what() << "\n";
    return 1;
  }
}
