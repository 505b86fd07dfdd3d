#include "experiments/sweep_job.h"

#include <fnmatch.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/io.h"
#include "experiments/interrupt.h"
#include "experiments/journal.h"
#include "experiments/json_writer.h"
#include "experiments/provenance.h"
#include "experiments/rank_journal.h"
#include "experiments/ranks.h"
#include "experiments/sha256.h"
#include "experiments/sweep_report.h"
#include "experiments/work_split.h"

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

// Which rank runs each item (work_split.h): a unit is one layer with all its
// configurations, so each layer's float output, smoothed operands and
// quantized weights are made on one rank only (and a reader per layer would
// read it on one rank only), costed M*K*N per configuration still to run;
// units are assigned longest first.
std::vector<int> item_owners(const Ranks& ranks, const TraceFile& traces, const std::vector<size_t>& layers,
                             const std::vector<SweepConfig>& configs, const std::vector<char>& done) {
  std::vector<double> costs(layers.size(), 0.0);
  for (size_t p = 0; p < layers.size(); ++p) {
    const LayerTrace& l = traces.layers[layers[p]];
    const double mkn = double(l.input_rows) * double(l.in_features) * double(l.out_features);
    for (size_t c = 0; c < configs.size(); ++c)
      if (!done[p * configs.size() + c]) costs[p] += mkn;
  }
  const std::vector<int> layer_owner = assign_longest_first(costs, ranks.size());
  std::vector<int> owner(layers.size() * configs.size());
  for (size_t i = 0; i < owner.size(); ++i) owner[i] = layer_owner[i / configs.size()];
  return owner;
}

}  // namespace

int run_sweep_job(const SweepJob& job) {
  // Every step before the item loop runs on every rank of an MPI job (each
  // reads the traces itself; rank 0 alone prepares the output directory), and
  // an error on any rank stops all of them, named (ranks.h).
  const Ranks& ranks = Ranks::world();
  std::vector<SweepConfig> configs;
  std::string traces_sha, journal_settings;
  TraceFile traces;
  std::vector<size_t> layers;
  ranks.all_or_none([&] {
    configs = build_sweep_configs(job.grid);
    traces_sha = sha256_file(job.traces);
    // Ranks read the index only and then their own layers one at a time
    // (docs/mpi.md, "Inputs on a shared filesystem").
    traces = ranks.distributed() ? read_trace_index(job.traces) : read_trace_file(job.traces);
    layers = selected_layers(traces, job.layers);
    journal_settings = settings(job, traces_sha);
  });
  require_same(ranks, "sweep settings", journal_settings);
  const std::string& out = job.output.out;
  ranks.all_or_none([&] {
    if (!ranks.root()) return;
    prepare_output_dir(job.output, true);
    if (!job.output.resume) RankJournal::clear(ranks, out);
  });
  const size_t total = layers.size() * configs.size();
  std::vector<SweepRow> rows(total);
  std::vector<char> done(total, 0);
  size_t already = 0;
  std::unique_ptr<RankJournal> journal;
  ranks.all_or_none([&] {
    journal = std::make_unique<RankJournal>(ranks, out, journal_settings, job.output.resume);
    for (const auto& [key, fields] : journal->items()) {
      const size_t index =
          !key.empty() && key.find_first_not_of("0123456789") == std::string::npos ? std::stoul(key) : total;
      if (index >= total) throw Error(journal->where(key) + ": '" + key + "' is not an item of this sweep");
      rows[index] = sweep_row_from_fields(fields, journal->where(key));
      done[index] = 1;
      ++already;
    }
  });
  std::vector<char> skip = done;
  if (ranks.distributed()) {
    const std::vector<int> owner = item_owners(ranks, traces, layers, configs, done);
    for (size_t i = 0; i < total; ++i) skip[i] |= owner[i] != ranks.rank();
  }
  if (ranks.root())
    std::cerr << "sweep: " << layers.size() << " layers x " << configs.size() << " configurations = " << total
              << " items" << (already ? " (" + std::to_string(already) + " done before)" : std::string()) << ", "
              << (ranks.distributed() ? std::to_string(ranks.size()) + " ranks x " : std::string())
              << threads_text(job.run.threads) << "\n";

  const auto start = std::chrono::steady_clock::now();
  install_interrupt_handlers();
  RankJournal::Items mine;  // this rank's new rows, for rank 0
  const auto on_row = [&](size_t i, const SweepRow& row) {
    rows[i] = row;
    std::vector<std::string> fields = sweep_row_fields(row);
    journal->append(std::to_string(i), fields);
    if (ranks.distributed()) mine.emplace_back(std::to_string(i), std::move(fields));
  };
  const auto on_progress = [&](size_t n) {
    if (!ranks.root()) return;
    std::cerr << "\rsweep: " << n << "/" << total << " ("
              << static_cast<long>((n - already) / std::max(seconds_since(start), 1e-9)) << " items/s)" << std::flush;
  };
  if (!ranks.distributed()) {
    run_sweep(traces, layers, configs, job.run, skip, on_row, on_progress);
  } else {
    // One layer at a time: its data and its smoothing group's (the group's
    // weights and absmax give the smoothing factors), then freed.
    for (size_t p = 0; p < layers.size() && !interrupt_signal(); ++p) {
      std::vector<char> only(total, 1);
      bool any = false;
      for (size_t c = 0; c < configs.size(); ++c) {
        const size_t i = p * configs.size() + c;
        only[i] = skip[i];
        any = any || !skip[i];
      }
      if (!any) continue;
      const std::vector<size_t> group = smoothing_group_members(traces, layers[p]);
      std::vector<size_t> load = group;
      if (std::find(load.begin(), load.end(), layers[p]) == load.end()) load.push_back(layers[p]);
      load_trace_layers(traces, load);
      run_sweep(traces, layers, configs, job.run, only, on_row, on_progress);
      unload_trace_layers(traces, load);
    }
  }
  if (ranks.root()) std::cerr << "\n";
  if (const int sig = ranks.max(interrupt_signal())) {
    if (ranks.root())
      std::cerr << "sqsim sweep: interrupted by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ": "
                << (ranks.distributed() ? "the finished rows are kept in the journals of " + out
                                        : std::to_string(journal->size()) + "/" + std::to_string(total) +
                                              " rows kept in " + journal->path())
                << "; rerun the same command with --resume to finish\n";
    return 128 + sig;
  }
  if (ranks.distributed()) {
    // Rank 0 takes every rank's rows; the others are done.
    const std::string bytes = pack_items(mine);
    const std::vector<std::string> parts = ranks.gather(bytes);
    if (!ranks.root()) return 0;
    size_t gathered = 0, gathered_bytes = 0;
    for (size_t r = 1; r < parts.size(); ++r) {
      gathered_bytes += parts[r].size();
      for (const auto& [key, fields] : unpack_items(parts[r])) {
        const size_t i = std::stoul(key);
        rows[i] = sweep_row_from_fields(fields, "rank " + std::to_string(r) + ", row " + key);
        done[i] = 1;
        ++gathered;
      }
    }
    std::cerr << "sweep: gathered " << gathered << " rows (" << gathered_bytes << " bytes) from " << ranks.size() - 1
              << " other rank(s)\n";
  }
  for (const auto& [key, fields] : mine) done[std::stoul(key)] = 1;
  if (ranks.distributed()) {
    for (size_t i = 0; i < total; ++i)
      if (!done[i]) throw Error("sweep: row " + std::to_string(i) + " came from no rank");
  }
  const double seconds = seconds_since(start);
  RankJournal::Items ordered;
  for (size_t i = 0; i < total; ++i) ordered.emplace_back(std::to_string(i), sweep_row_fields(rows[i]));
  journal->finish(ordered);

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
