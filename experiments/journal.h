#pragma once
// The one journal of every resumable command (sweep, ppl, paper-tables): a
// text file in the output directory that records the settings of the run and
// then one line per finished item, appended and flushed as each completes, so
// a killed run loses only what was in flight and --resume redoes nothing else.
//
//   sqsim journal 1
//   = <settings line>          the run's settings, compared on --resume
//   ...
//   <key> TAB <field> TAB ...  one finished item (tab, newline, backslash escaped)
//
// A last line without its newline (cut by a kill) is ignored. Numbers are
// written with format.h's exact (%.17g), which reads back to the same double.
//
// Settings: --resume needs the journal's settings lines to be this run's,
// with one allowance. A line ending in kDefaultMark (an option the user did
// not give: option_settings in cli.h) may be missing from the journal, and
// matches the journal's line without the mark: a journal written before an
// option existed, or by a version that did not mark defaults, resumes as
// long as the new option keeps its default. Changing a default still
// refuses the journal, since its line then differs.
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sqsim::cli {

inline constexpr const char* kDefaultMark = " (default)";

class Journal {
 public:
  static constexpr const char* kFileName = "journal.txt";

  // With `resume` and an existing file: refuses (sqsim::Error naming the file
  // and the first differing line) a journal of other `settings`, else loads its
  // finished items. Otherwise starts the file afresh with `settings`.
  Journal(std::string path, const std::string& settings, bool resume);

  // The fields journaled under `key` (the last ones when repeated), or null.
  const std::vector<std::string>* find(const std::string& key) const;
  // "PATH: line N" of a journaled key, for errors about its fields.
  std::string where(const std::string& key) const;
  size_t size() const { return items_.size(); }
  const std::map<std::string, std::vector<std::string>>& items() const { return items_; }

  // Reads a journal without writing to it (another rank's, docs/mpi.md);
  // refuses one of other `settings` as the constructor does on --resume.
  static Journal read_only(std::string path, const std::string& settings);

  // Appends one item and flushes it to the file.
  void append(const std::string& key, const std::vector<std::string>& fields);

  const std::string& path() const { return path_; }

 private:
  Journal() = default;
  void load(const std::string& settings);

  std::string path_;
  std::ofstream out_;
  std::map<std::string, std::vector<std::string>> items_;
  std::map<std::string, long> lines_;
};

// The whole text of a journal of `settings` holding `items` in this order:
// what an uninterrupted one-process run appends (the merged journal of an MPI run).
std::string journal_text(const std::string& settings,
                         const std::vector<std::pair<std::string, std::vector<std::string>>>& items);

// A finite number, or an error "WHERE: expected a finite number, got 'TEXT'".
double parse_journal_number(const std::string& text, const std::string& where);

}  // namespace sqsim::cli
