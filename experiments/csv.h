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

// The table as CSV text (header first, "\n" line ends, cells quoted by
// format.h's csv_quote).
std::string to_csv(const CsvTable& table);

// Reads a whole CSV file; every row must have the header's width.
CsvTable read_csv(const std::string& path);

}  // namespace sqsim::cli
