// sqsim sweep: the design card's main loop. Read traces, sweep alpha x bits x
// granularities x static/dynamic over every selected layer, write results.csv
// (long format), summary.json (provenance), summary.md / summary.tex, SVG plots.
#include <fnmatch.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/csv.h"
#include "experiments/interrupt.h"
#include "experiments/output_dir.h"
#include "experiments/provenance.h"
#include "experiments/quant_options.h"
#include "experiments/sha256.h"
#include "experiments/sweep.h"
#include "experiments/sweep_report.h"
#include "base/error.h"

namespace sqsim::cli {

namespace {

const char* kJournal = "results.journal";  // "index<TAB>row" lines, appended as items complete
const char* kPlan = "sweep.plan";          // what the journal belongs to; --resume checks it

std::string plan_text(const po::variables_map& vm, const std::string& traces_sha) {
  std::ostringstream o;
  for (const char* k : {"traces", "layers", "alpha", "w-bits", "a-bits", "w-granularity", "a-granularity", "act-scale",
                        "rounding", "scale-rule", "clamp", "mode"}) {
    o << k << "=" << vm[k].as<std::string>() << "\n";
  }
  o << "seed=" << vm["seed"].as<unsigned long long>() << "\nw-symmetric=" << vm["w-symmetric"].as<bool>()
    << "\na-symmetric=" << vm["a-symmetric"].as<bool>() << "\ntraces_sha256=" << traces_sha << "\n";
  return o.str();
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int run_sweep_command(int argc, char** argv) {
  po::options_description o("sweep");
  o.add_options()("traces", po::value<std::string>()->required(), "trace file (docs/trace-format.md)")(
      "out", po::value<std::string>()->required(), "output directory")(
      "layers", po::value<std::string>()->default_value("*"), "glob over layer names, e.g. '*q_proj'")(
      "mode", po::value<std::string>()->default_value("integer"), "integer (kernel emulation) or fake-quant")(
      "kernel", po::value<std::string>()->default_value("auto"), "auto, reference, avx2, avx512-vnni")(
      "threads", po::value<int>()->default_value(1), "worker threads (results are identical for any count)")(
      "resume", po::bool_switch(), "finish an interrupted sweep in --out")(
      "force", po::bool_switch(), "overwrite a non-empty --out");
  add_sweep_config_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim sweep --traces FILE --out DIR [options]\n\n"
             "Sweeps every selected layer of a trace file over the Cartesian product of the\n"
             "listed alphas, bit widths, granularities and activation scale sources. Writes\n"
             "results.csv (one row per layer and configuration), summary.json (configuration,\n"
             "input sha256, git commit, library versions), summary.md and summary.tex, and the\n"
             "plots error_vs_alpha.svg and smoothing_absmax.svg. Combinations that do not fit a\n"
             "layer (a group size that does not divide K) are kept as rows with a 'skipped' status.\n"
             "Rows are journaled as they finish: after an interruption, --resume completes the\n"
             "sweep with results identical to an uninterrupted run.",
             o, vm))
    return 0;
  const std::string out = vm["out"].as<std::string>(), traces_path = vm["traces"].as<std::string>();
  const bool resume = vm["resume"].as<bool>(), force = vm["force"].as<bool>();
  if (resume && force) throw Error("--resume and --force: choose one");
  SweepOptions options;
  options.mode = kernels::parse_emulation_mode(vm["mode"].as<std::string>());
  options.kernel = kernels::parse_kernel_path(vm["kernel"].as<std::string>());
  kernels::resolve_kernel_path(options.kernel);
  options.threads = vm["threads"].as<int>();
  if (options.threads < 1 || options.threads > 1024) {
    throw Error("--threads " + std::to_string(options.threads) + ": expected 1..1024");
  }
  for (const char* k : {"act-scale"}) split_list(vm[k].as<std::string>(), std::string("--") + k);
  const std::vector<SweepConfig> configs = build_sweep_configs(vm);

  const std::string traces_sha = sha256_file(traces_path);
  const TraceFile traces = read_trace_file(traces_path);
  const std::string glob = vm["layers"].as<std::string>();
  std::vector<size_t> layers;
  for (size_t i = 0; i < traces.layers.size(); ++i)
    if (fnmatch(glob.c_str(), traces.layers[i].name.c_str(), 0) == 0) layers.push_back(i);
  if (layers.empty()) throw Error("--layers '" + glob + "': matches no layer of " + traces_path);

  prepare_output_dir(out, force, resume, "--out", true);
  const std::string plan = plan_text(vm, traces_sha);
  const std::string journal_path = out + "/" + kJournal, plan_path = out + "/" + kPlan;
  const size_t total = layers.size() * configs.size();
  std::vector<std::string> rows(total);
  std::vector<char> done(total, 0);
  namespace fs = std::filesystem;
  if (resume && fs::exists(plan_path) && read_all(plan_path) != plan) {
    throw Error("--resume " + out + ": the sweep there was started with other options or traces (see " + plan_path +
                ")");
  }
  if (resume && fs::exists(out + "/results.csv") && !fs::exists(journal_path)) {
    std::cerr << "sweep: " << out << " is already complete\n";
    return 0;
  }
  if (resume && fs::exists(plan_path)) {
    std::ifstream in(journal_path);
    std::string line;
    while (std::getline(in, line)) {
      // A line cut by a kill has no tab or a short row; it is simply redone.
      const size_t tab = line.find('\t');
      if (tab == std::string::npos || in.eof()) continue;
      const size_t index = std::stoul(line.substr(0, tab));
      const std::string row = line.substr(tab + 1);
      if (index < total && split_csv_line(row).size() == split_csv_line(kSweepCsvHeader).size()) {
        rows[index] = row;
        done[index] = 1;
      }
    }
  } else {
    write_file_atomic(plan_path, plan);
    std::ofstream(journal_path, std::ios::trunc);
  }
  size_t already = 0;
  for (char d : done) already += d;
  std::cerr << "sweep: " << layers.size() << " layers x " << configs.size() << " configurations = " << total
            << " items" << (already ? " (" + std::to_string(already) + " done before)" : std::string()) << ", "
            << options.threads << " thread(s)\n";

  const auto start = std::chrono::steady_clock::now();
  install_interrupt_handlers();
  size_t finished_now = 0;
  {
    std::ofstream journal(journal_path, std::ios::app);
    if (!journal) throw Error(journal_path + ": cannot open the journal for writing");
    run_sweep(
        traces, layers, configs, options, done,
        [&](size_t i, const std::string& row) {
          rows[i] = row;
          journal << i << '\t' << row << '\n';
          journal.flush();
          ++finished_now;
        },
        [&](size_t n) {
          const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          std::cerr << "\rsweep: " << n << "/" << total << " (" << static_cast<long>((n - already) / std::max(secs, 1e-9))
                    << " items/s)" << std::flush;
        });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "\n";
  if (const int sig = interrupt_signal()) {
    std::cerr << "sqsim sweep: interrupted by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ": "
              << already + finished_now << "/" << total << " rows kept in " << journal_path
              << "; rerun the same command with --resume to finish\n";
    return 128 + sig;
  }

  std::string csv = std::string(kSweepCsvHeader) + "\n";
  for (const auto& r : rows) csv += r + "\n";
  write_file_atomic(out + "/results.csv", csv);

  const std::string cmd = command_line(argc, argv), commit = git_commit();
  std::ostringstream json;
  json << "{\n  \"command\": \"" << json_escape(cmd) << "\",\n  \"configuration\": {";
  bool first = true;
  for (const auto& [k, v] : vm) {
    std::string value;
    if (auto s = boost::any_cast<std::string>(&v.value())) value = "\"" + json_escape(*s) + "\"";
    else if (auto i = boost::any_cast<int>(&v.value())) value = std::to_string(*i);
    else if (auto b = boost::any_cast<bool>(&v.value())) value = *b ? "true" : "false";
    else if (auto u = boost::any_cast<unsigned long long>(&v.value())) value = std::to_string(*u);
    else continue;
    json << (first ? "\n" : ",\n") << "    \"" << json_escape(k) << "\": " << value;
    first = false;
  }
  json << "\n  },\n  \"inputs\": [{\"path\": \"" << json_escape(traces_path) << "\", \"sha256\": \"" << traces_sha
       << "\"}],\n  \"git_commit\": \"" << commit << "\",\n  \"libraries\": {" << library_versions_json()
       << "},\n  \"kernel\": \"" << kernels::kernel_path_name(kernels::resolve_kernel_path(options.kernel))
       << "\",\n  \"layers\": " << layers.size() << ",\n  \"configurations\": " << configs.size()
       << ",\n  \"items\": " << total << ",\n  \"seconds_this_run\": " << seconds << "\n}\n";
  write_file_atomic(out + "/summary.json", json.str());

  ReportContext ctx;
  ctx.out_dir = out;
  ctx.command = cmd;
  ctx.provenance_md = "Provenance: `" + cmd + "`; traces `" + traces_path + "` (sha256 " + traces_sha +
                      "); git commit " + commit + ". Full configuration in summary.json.\n";
  write_sweep_reports(read_csv(out + "/results.csv"), traces, ctx);
  std::remove(journal_path.c_str());
  std::cout << "wrote " << out << "/results.csv (" << total << " rows), summary.json, summary.md, summary.tex, "
            << "error_vs_alpha.svg, smoothing_absmax.svg in " << seconds << " s\n";
  return 0;
}

}  // namespace sqsim::cli
