#pragma once
// One results table written three ways (Markdown, LaTeX, CSV), each carrying
// the same provenance block, for the paper-style reports in results/.
#include <string>
#include <vector>

namespace sqsim::cli {

struct ReportTable {
  std::string title;    // "Table 1: ..."
  std::string caption;  // one paragraph under the title
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Lines such as "command: ...", "model: PATH (sha256 ...)": under every table.
  std::vector<std::string> provenance;
};

// The Markdown grid alone: header line, separator, one line per row. With
// kNumbersRight every column but the first is right-aligned ("---:").
enum class MarkdownAlign { kLeft, kNumbersRight };
std::string markdown_grid(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                          MarkdownAlign align);

std::string to_markdown(const ReportTable& t);
std::string to_latex(const ReportTable& t);
// CSV of header + rows, then the provenance as "# " comment lines.
std::string to_csv_with_provenance(const ReportTable& t);
// Writes BASE.md, BASE.tex and BASE.csv (each atomically).
void write_report_table(const ReportTable& t, const std::string& base_path);

}  // namespace sqsim::cli
