#pragma once
// `sqsim sweep` as a library function: a trace file in, a report directory out
// (results.csv, summary.json, summary.md, summary.tex, error_vs_alpha.svg,
// smoothing_absmax.svg), every finished row journaled (journal.txt, kept
// beside the reports) so that --resume completes an interrupted sweep with the
// same bytes, and refuses a directory of a sweep with other settings.
#include <string>
#include <utility>
#include <vector>

#include "experiments/run_options.h"
#include "experiments/sweep.h"

namespace sqsim::cli {

struct SweepJob {
  std::string traces;        // trace file (docs/trace-format.md)
  std::string layers = "*";  // glob over layer names
  SweepGrid grid;
  RunOptions run;
  OutputOptions output;  // a directory
  // Provenance: the command as typed, and every option as (name, JSON value).
  std::string command;
  std::vector<std::pair<std::string, std::string>> configuration;
};

// Runs the job; returns the exit status (0, or 128 + signal when SIGINT or
// SIGTERM stopped it, finished rows kept in the journal).
int run_sweep_job(const SweepJob& job);

}  // namespace sqsim::cli
