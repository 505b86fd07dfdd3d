#include "experiments/sweep_job.h"

#include <fnmatch.h>

#include <chrono>
#include <csignal>
#include <iostream>

#include "base/error.h"
#include "base/io.h"
#include "experiments/interrupt.h"
#include "experiments/journal.h"
#include "experiments/json_writer.h"
#include "experiments/provenance.h"
#include "experiments/sha256.h"
#include "experiments/sweep_report.h"

namespace sqsim::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<size_t> selected_layers(const TraceFile& traces, const std::string& glob) {
  std::vector<size_t> layers;
  for (size_t i = 0; i < traces.layers.size(); ++i)
    if (fnmatch(glob.c_str(), traces.layers[i].name.c_str(), 0) == 0) layers.push_back(i);
  if (layers.empty()) throw Error("--layers '" + glob + "': matches no layer of " + traces.path);
  return layers;
}

// Everything a journaled row depends on: --resume refuses a journal of others.
std::string settings(const SweepJob& job, const std::string& traces_sha) {
  return "traces=" + job.traces + "\ntraces_sha256=" + traces_sha + "\nlayers=" + job.layers + "\n" +
         settings_text(job.grid) + "mode=" + (job.run.mode == kernels::EmulationMode::kInteger ? "integer" : "fake-quant") +
         "\nkernel=" +
         kernels::kernel_path_name(kernels::resolve_kernel_path(job.run.kernel)) + "\n";
}

std::string summary_json(const SweepJob& job, const std::string& traces_sha, const std::string& commit, size_t layers,
                         size_t configs, double seconds) {
  JsonWriter w;
  w.begin_object().member("command", job.command).key("configuration").begin_object();
  for (const auto& [name, value] : job.configuration) w.key(name).raw(value);
  w.end_object().key("inputs").begin_array().begin_object().member("path", job.traces).member("sha256", traces_sha);
  w.end_object().end_array().member("git_commit", commit).key("libraries").object(library_versions());
  w.member("kernel", kernels::kernel_path_name(kernels::resolve_kernel_path(job.run.kernel)))
      .member("layers", layers)
      .member("configurations", configs)
      .member("items", layers * configs)
      .key("seconds_this_run")
      .number(seconds, "%g");
  return w.end_object().str();
}

}  // namespace

int run_sweep_job(const SweepJob& job) {
  const std::vector<SweepConfig> configs = build_sweep_configs(job.grid);
  const std::string traces_sha = sha256_file(job.traces);
  const TraceFile traces = read_trace_file(job.traces);
  const std::vector<size_t> layers = selected_layers(traces, job.layers);
  const std::string& out = job.output.out;
  prepare_output_dir(job.output, true);
  const std::string journal_path = out + "/" + Journal::kFileName;
  Journal journal(journal_path, settings(job, traces_sha), job.output.resume);
  const size_t total = layers.size() * configs.size();
  std::vector<SweepRow> rows(total);
  std::vector<char> done(total, 0);
  size_t already = 0;
  for (const auto& [key, fields] : journal.items()) {
    const size_t index =
        !key.empty() && key.find_first_not_of("0123456789") == std::string::npos ? std::stoul(key) : total;
    if (index >= total) throw Error(journal.where(key) + ": '" + key + "' is not an item of this sweep");
    rows[index] = sweep_row_from_fields(fields, journal.where(key));
    done[index] = 1;
    ++already;
  }
  std::cerr << "sweep: " << layers.size() << " layers x " << configs.size() << " configurations = " << total
            << " items" << (already ? " (" + std::to_string(already) + " done before)" : std::string()) << ", "
            << threads_text(job.run.threads) << "\n";

  const auto start = std::chrono::steady_clock::now();
  install_interrupt_handlers();
  run_sweep(
      traces, layers, configs, job.run, done,
      [&](size_t i, const SweepRow& row) {
        rows[i] = row;
        journal.append(std::to_string(i), sweep_row_fields(row));
      },
      [&](size_t n) {
        std::cerr << "\rsweep: " << n << "/" << total << " ("
                  << static_cast<long>((n - already) / std::max(seconds_since(start), 1e-9)) << " items/s)"
                  << std::flush;
      });
  const double seconds = seconds_since(start);
  std::cerr << "\n";
  if (const int sig = interrupt_signal()) {
    std::cerr << "sqsim sweep: interrupted by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ": " << journal.size()
              << "/" << total << " rows kept in " << journal_path
              << "; rerun the same command with --resume to finish\n";
    return 128 + sig;
  }

  write_file_atomic(out + "/results.csv", sweep_csv(rows));
  const std::string commit = git_commit();
  write_file_atomic(out + "/summary.json",
                    summary_json(job, traces_sha, commit, layers.size(), configs.size(), seconds));
  ReportContext ctx;
  ctx.out_dir = out;
  ctx.command = job.command;
  ctx.provenance_md = "Provenance: `" + job.command + "`; traces `" + job.traces + "` (sha256 " + traces_sha +
                      "); git commit " + commit + ". Full configuration in summary.json.\n";
  write_sweep_reports(rows, traces, ctx);
  std::cout << "wrote " << out << "/results.csv (" << total << " rows), summary.json, summary.md, summary.tex, "
            << "error_vs_alpha.svg, smoothing_absmax.svg in " << seconds << " s\n";
  return 0;
}

}  // namespace sqsim::cli
