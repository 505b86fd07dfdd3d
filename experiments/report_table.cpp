#include "experiments/report_table.h"

#include "experiments/csv.h"
#include "experiments/format.h"
#include "base/io.h"

namespace sqsim::cli {

std::string markdown_grid(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                          MarkdownAlign align) {
  std::string o;
  auto line = [&](const std::vector<std::string>& cells) {
    o += "|";
    for (const std::string& c : cells) o += " " + c + " |";
    o += "\n";
  };
  line(header);
  o += "|";
  for (size_t i = 0; i < header.size(); ++i) o += i == 0 || align == MarkdownAlign::kLeft ? "---|" : "---:|";
  o += "\n";
  for (const auto& r : rows) line(r);
  return o;
}

std::string to_markdown(const ReportTable& t) {
  std::string o = "## " + t.title + "\n\n";
  if (!t.caption.empty()) o += t.caption + "\n\n";
  o += markdown_grid(t.header, t.rows, MarkdownAlign::kNumbersRight);
  o += "\nProvenance:\n\n";
  for (const std::string& p : t.provenance) o += "- " + p + "\n";
  return o;
}

std::string to_latex(const ReportTable& t) {
  std::string o = "% " + t.title + "\n";
  for (const std::string& p : t.provenance) o += "% " + p + "\n";
  o += "\\begin{table}[t]\n\\centering\n\\begin{tabular}{l";
  for (size_t i = 1; i < t.header.size(); ++i) o += "r";
  o += "}\n\\toprule\n";
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) o += (i ? " & " : "") + tex_escape(cells[i]);
    o += " \\\\\n";
  };
  line(t.header);
  o += "\\midrule\n";
  for (const auto& r : t.rows) line(r);
  o += "\\bottomrule\n\\end{tabular}\n\\caption{" + tex_escape(t.title + ". " + t.caption) + "}\n\\end{table}\n";
  return o;
}

std::string to_csv_with_provenance(const ReportTable& t) {
  std::string o = to_csv(CsvTable{t.header, t.rows});
  for (const std::string& p : t.provenance) o += "# " + p + "\n";
  return o;
}

void write_report_table(const ReportTable& t, const std::string& base) {
  write_file_atomic(base + ".md", to_markdown(t));
  write_file_atomic(base + ".tex", to_latex(t));
  write_file_atomic(base + ".csv", to_csv_with_provenance(t));
}

}  // namespace sqsim::cli
