#pragma once
// Minimal SVG charts for reports: lines (with markers) or bars, several series,
// linear or log10 y axis, ticks, legend. No dependencies, deterministic output.
#include <string>
#include <vector>

namespace sqsim::cli {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
};

struct Plot {
  std::string title, x_label, y_label;
  bool log_y = false;
  bool bars = false;  // draw each point as a thin vertical bar (per-channel plots)
  std::vector<PlotSeries> series;
};

std::string render_svg(const Plot& plot);

}  // namespace sqsim::cli
