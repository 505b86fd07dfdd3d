#pragma once
// Minimal CSV (RFC 4180 quoting) for the sweep's results and its checks.
#include <string>
#include <vector>

namespace sqsim::cli {

std::vector<std::string> split_csv_line(const std::string& line);

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Column index by name; throws naming `file` when absent.
  size_t column(const std::string& name, const std::string& file) const;
};

// One cell, quoted when it holds a comma, quote or line break.
std::string csv_quote(const std::string& cell);
// The table as CSV text (header first, "\n" line ends).
std::string to_csv(const CsvTable& table);
// A number as CSV/Markdown cells print it: %.<digits>g.
std::string format_number(double v, int digits = 8);

// Reads a whole CSV file; every row must have the header's width.
CsvTable read_csv(const std::string& path);

}  // namespace sqsim::cli
