#include "experiments/csv.h"

#include <sstream>

#include "base/error.h"
#include "base/io.h"
#include "experiments/format.h"

namespace sqsim::cli {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

size_t CsvTable::column(const std::string& name, const std::string& file) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  throw Error(file + ": missing column '" + name + "'");
}

CsvTable read_csv(const std::string& path) {
  std::istringstream in(read_file(path, "CSV file"));
  CsvTable t;
  std::string line;
  if (!std::getline(in, line)) throw Error(path + ": empty file (expected a CSV header)");
  t.header = split_csv_line(line);
  long lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    auto cells = split_csv_line(line);
    if (cells.size() != t.header.size()) {
      throw Error(path + ": line " + std::to_string(lineno) + " has " + std::to_string(cells.size()) +
                  " fields (expected " + std::to_string(t.header.size()) + ")");
    }
    t.rows.push_back(std::move(cells));
  }
  return t;
}

std::string to_csv(const CsvTable& table) {
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csv_quote(cells[i]);
    out += "\n";
  };
  line(table.header);
  for (const auto& r : table.rows) line(r);
  return out;
}

}  // namespace sqsim::cli
