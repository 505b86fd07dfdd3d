// sqsim sweep: the design card's main loop. Read traces, sweep alpha x bits x
// granularities x static/dynamic over every selected layer, write results.csv
// (long format), summary.json (provenance), summary.md / summary.tex, SVG plots.
// The work is run_sweep_job (sweep_job.h); this file turns options into a SweepJob.
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/provenance.h"
#include "experiments/quant_options.h"
#include "experiments/sweep_job.h"

namespace sqsim::cli {

int run_sweep_command(int argc, char** argv) {
  po::options_description o("sweep");
  o.add_options()("traces", po::value<std::string>()->required(), "trace file (docs/trace-format.md)")(
      "layers", po::value<std::string>()->default_value("*"), "glob over layer names, e.g. '*q_proj'");
  add_output_options(o, "output directory", /*resumable=*/true);
  add_run_options(o);
  add_sweep_grid_options(o);
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
  SweepJob job;
  job.traces = vm["traces"].as<std::string>();
  job.layers = vm["layers"].as<std::string>();
  job.output = output_options(vm);
  job.run = run_options(vm);
  job.grid = sweep_grid(vm);
  job.command = command_line(argc, argv);
  job.configuration = option_values_json(vm);
  return run_sweep_job(job);
}

}  // namespace sqsim::cli
