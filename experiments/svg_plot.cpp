#include "experiments/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "experiments/format.h"

namespace sqsim::cli {

namespace {

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                         "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8"};
constexpr int kNumColors = 12;

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

std::string num(double v) { return significant(v, 4); }

}  // namespace

std::string render_svg(const Plot& p) {
  const double W = 960, H = 460, L = 80, R = 330, T = 40, B = 60;
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  auto ty = [&](double y) { return p.log_y ? std::log10(std::max(y, 1e-30)) : y; };
  for (const auto& s : p.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (p.log_y && s.y[i] <= 0)) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, ty(s.y[i]));
      ymax = std::max(ymax, ty(s.y[i]));
    }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (p.bars && !p.log_y) ymin = std::min(ymin, 0.0);
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1;
  const double pad = 0.05 * (ymax - ymin);
  if (!(p.bars && !p.log_y && ymin == 0)) ymin -= pad;
  ymax += pad;
  auto px = [&](double x) { return L + (x - xmin) / (xmax - xmin) * (W - L - R); };
  auto py = [&](double y) { return H - B - (ty(y) - ymin) / (ymax - ymin) * (H - T - B); };
  auto pyt = [&](double t) { return H - B - (t - ymin) / (ymax - ymin) * (H - T - B); };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << escape(p.title) << "</text>\n";
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 5; ++i) {
    const double xv = xmin + (xmax - xmin) * i / 5, yt = ymin + (ymax - ymin) * i / 5;
    o << "<line x1=\"" << px(xv) << "\" y1=\"" << H - B << "\" x2=\"" << px(xv) << "\" y2=\"" << H - B + 5
      << "\" stroke=\"black\"/><text x=\"" << px(xv) << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\">"
      << num(xv) << "</text>\n";
    o << "<line x1=\"" << L - 5 << "\" y1=\"" << pyt(yt) << "\" x2=\"" << W - R << "\" y2=\"" << pyt(yt)
      << "\" stroke=\"#ddd\"/><text x=\"" << L - 8 << "\" y=\"" << pyt(yt) + 4 << "\" text-anchor=\"end\">"
      << num(p.log_y ? std::pow(10.0, yt) : yt) << "</text>\n";
  }
  o << "<text x=\"" << L + (W - L - R) / 2 << "\" y=\"" << H - 15 << "\" text-anchor=\"middle\">" << escape(p.x_label)
    << "</text>\n";
  o << "<text transform=\"translate(18," << T + (H - T - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << escape(p.y_label) << (p.log_y ? " (log scale)" : "") << "</text>\n";
  for (size_t si = 0; si < p.series.size(); ++si) {
    const auto& s = p.series[si];
    const char* color = kColors[si % kNumColors];
    // Past the palette, lines are dashed so that no two series look the same.
    const char* dash = si >= kNumColors ? " stroke-dasharray=\"6,3\"" : "";
    std::ostringstream path;
    bool first = true;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (p.log_y && s.y[i] <= 0)) continue;
      if (p.bars) {
        o << "<line x1=\"" << px(s.x[i]) << "\" y1=\"" << (p.log_y ? H - B : py(0)) << "\" x2=\"" << px(s.x[i])
          << "\" y2=\"" << py(s.y[i]) << "\" stroke=\"" << color << "\" stroke-opacity=\"0.7\"/>\n";
      } else {
        path << (first ? "M" : " L") << px(s.x[i]) << "," << py(s.y[i]);
        o << "<circle cx=\"" << px(s.x[i]) << "\" cy=\"" << py(s.y[i]) << "\" r=\"2.5\" fill=\"" << color << "\"/>\n";
      }
      first = false;
    }
    if (!p.bars && !first) {
      o << "<path d=\"" << path.str() << "\" fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\"" << dash << "/>\n";
    }
    o << "<rect x=\"" << W - R + 12 << "\" y=\"" << T + 8 + si * 18 << "\" width=\"12\" height=\"12\" fill=\"" << color
      << "\"/><text x=\"" << W - R + 30 << "\" y=\"" << T + 18 + si * 18 << "\">" << escape(s.name) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace sqsim::cli
