#include "experiments/journal.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "base/error.h"
#include "base/io.h"

namespace sqsim::cli {

namespace {

const char* const kMagic = "sqsim journal 1";

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\\') o += "\\\\";
    else if (c == '\t') o += "\\t";
    else if (c == '\n') o += "\\n";
    else if (c == '\r') o += "\\r";
    else o += c;
  }
  return o;
}

std::vector<std::string> split_escaped(const std::string& line) {
  std::vector<std::string> cells(1);
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '\t') {
      cells.emplace_back();
    } else if (c == '\\' && i + 1 < line.size()) {
      const char e = line[++i];
      cells.back() += e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;  // an unfinished last line: cut by a kill
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string settings_block(const std::string& settings) {
  std::string o;
  for (const std::string& line : lines_of(settings.empty() || settings.back() == '\n' ? settings : settings + "\n"))
    o += "= " + line + "\n";
  return o;
}

std::string without_default_mark(const std::string& line) {
  const std::string mark = kDefaultMark;
  const bool marked = line.size() >= mark.size() && line.compare(line.size() - mark.size(), mark.size(), mark) == 0;
  return marked ? line.substr(0, line.size() - mark.size()) : line;
}

// The first line of `want` the journal's `have` does not satisfy (the
// allowance in journal.h) with the journal's line for the same option if it
// has one, else the first line of `have` that `want` lacks; {npos, npos}
// when they match.
std::pair<size_t, size_t> settings_difference(const std::vector<std::string>& have,
                                              const std::vector<std::string>& want) {
  constexpr size_t npos = std::string::npos;
  std::vector<std::string> bare_have;
  for (const std::string& h : have) bare_have.push_back(without_default_mark(h));
  std::vector<bool> used(have.size(), false);
  for (size_t w = 0; w < want.size(); ++w) {
    const std::string bare = without_default_mark(want[w]);
    size_t h = 0;
    while (h < have.size() && (used[h] || bare_have[h] != bare)) ++h;
    if (h < have.size()) {
      used[h] = true;
      continue;
    }
    // The same option recorded with another value, if it is an option line.
    const size_t eq = bare.find('=', 2);  // after the journal's "= "
    for (size_t k = 0; k < have.size() && eq != npos; ++k)
      if (bare_have[k].compare(0, eq + 1, bare, 0, eq + 1) == 0) return {w, k};
    if (bare != want[w]) continue;  // a defaulted option the journal predates: allowed
    // A given line the journal lacks, shown beside the first journal line
    // this run has no counterpart for (if any).
    for (size_t k = 0; k < have.size(); ++k) {
      bool wanted = false;
      for (const std::string& v : want) wanted = wanted || without_default_mark(v) == bare_have[k];
      if (!wanted) return {w, k};
    }
    return {w, npos};
  }
  for (size_t h = 0; h < have.size(); ++h)
    if (!used[h]) return {npos, h};
  return {npos, npos};
}

}  // namespace

Journal::Journal(std::string path, const std::string& settings, bool resume) : path_(std::move(path)) {
  std::ifstream probe(path_);
  if (resume && probe) {
    probe.close();
    load(settings);
    // An unfinished last line (cut by a kill) is dropped, so that the next
    // item starts a line of its own.
    const std::string text = read_file(path_, "journal");
    const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (complete < text.size()) std::filesystem::resize_file(path_, complete);
    out_.open(path_, std::ios::app | std::ios::binary);
  } else {
    out_.open(path_, std::ios::trunc | std::ios::binary);
    out_ << kMagic << "\n" << settings_block(settings) << std::flush;
  }
  if (!out_) throw Error(path_ + ": cannot open the journal for writing");
}

Journal Journal::read_only(std::string path, const std::string& settings) {
  Journal j;
  j.path_ = std::move(path);
  j.load(settings);
  return j;
}

void Journal::load(const std::string& settings) {
  const std::vector<std::string> lines = lines_of(read_file(path_, "journal"));
  if (lines.empty() || lines[0] != kMagic)
    throw Error("--resume: " + path_ + " is not a journal of this sqsim version (first line '" + kMagic +
                "' expected); start a new --out");
  const std::vector<std::string> want = lines_of(settings_block(settings));
  size_t n = 1;
  std::vector<std::string> have;
  while (n < lines.size() && lines[n].compare(0, 2, "= ") == 0) have.push_back(lines[n++]);
  const auto [w, h] = settings_difference(have, want);
  if (w != std::string::npos || h != std::string::npos) {
    const std::string was = h != std::string::npos ? "'" + have[h].substr(2) + "'" : "nothing";
    const std::string now = w != std::string::npos ? "'" + want[w].substr(2) + "'" : "nothing";
    throw Error("--resume: " + path_ + " records other settings than this run's (" + was + " where this run has " +
                now + "); start a new --out");
  }
  for (; n < lines.size(); ++n) {
    std::vector<std::string> cells = split_escaped(lines[n]);
    const std::string key = cells.front();
    cells.erase(cells.begin());
    items_[key] = std::move(cells);
    lines_[key] = long(n) + 1;
  }
}

const std::vector<std::string>* Journal::find(const std::string& key) const {
  const auto it = items_.find(key);
  return it == items_.end() ? nullptr : &it->second;
}

std::string Journal::where(const std::string& key) const {
  const auto it = lines_.find(key);
  return path_ + (it == lines_.end() ? std::string() : ": line " + std::to_string(it->second));
}

namespace {

std::string item_line(const std::string& key, const std::vector<std::string>& fields) {
  std::string line = escape(key);
  for (const std::string& f : fields) line += "\t" + escape(f);
  return line + "\n";
}

}  // namespace

std::string journal_text(const std::string& settings,
                         const std::vector<std::pair<std::string, std::vector<std::string>>>& items) {
  std::string text = std::string(kMagic) + "\n" + settings_block(settings);
  for (const auto& [key, fields] : items) text += item_line(key, fields);
  return text;
}

void Journal::append(const std::string& key, const std::vector<std::string>& fields) {
  out_ << item_line(key, fields) << std::flush;
  if (!out_) throw Error(path_ + ": cannot append to the journal");
  items_[key] = fields;
}

double parse_journal_number(const std::string& text, const std::string& where) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v))
    throw Error(where + ": expected a finite number, got '" + text + "'");
  return v;
}

}  // namespace sqsim::cli
