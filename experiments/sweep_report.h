#pragma once
// The sweep's reports, computed from its rows: summary.md and summary.tex
// (paper-style tables), and the SVG plots.
#include <string>
#include <vector>

#include "experiments/sweep.h"
#include "sim/formats/trace_file.h"

namespace sqsim::cli {

struct ReportContext {
  std::string out_dir;
  std::string command;
  std::string provenance_md;  // a block of lines appended under every table
};

// Writes summary.md, summary.tex and error_vs_alpha.svg from the rows, and
// smoothing_absmax.svg for the most outlier-heavy selected layer.
// Layers of `traces` not in memory (an MPI job reads them per layer) are read
// one at a time and freed again.
void write_sweep_reports(const std::vector<SweepRow>& rows, TraceFile& traces, const ReportContext& ctx);

}  // namespace sqsim::cli
