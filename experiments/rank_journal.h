#pragma once
// The journal of a run spread over MPI ranks (docs/mpi.md, "Journals"): each
// rank appends the items it finishes to its own file in the output directory
// (journal.rank<R>.txt; journal.txt itself in a one-process run, exactly as
// before), flushed per item, so a job killed at any moment loses only the
// items in flight. On --resume every rank reads every journal file there,
// whatever rank count wrote them, and skips what any of them holds. When the
// run completes, rank 0 writes journal.txt with every item in the order an
// uninterrupted one-process run appends them, and removes the rank files.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "experiments/journal.h"
#include "experiments/ranks.h"

namespace sqsim::cli {

class RankJournal {
 public:
  using Items = std::vector<std::pair<std::string, std::vector<std::string>>>;

  // Rank 0 only, before any rank opens its journal: without --resume, removes
  // the journal files an earlier run left in `dir` (they would be read back).
  static void clear(const Ranks& ranks, const std::string& dir);

  // Whether `dir` holds journal.rank*.txt files (an MPI run's, unfinished).
  static bool has_rank_files(const std::string& dir);

  // Opens this rank's file in `dir` (made by rank 0 beforehand) and, with
  // `resume`, reads every journal file there; errors as Journal's.
  RankJournal(const Ranks& ranks, const std::string& dir, const std::string& settings, bool resume);

  // Every item journaled by any rank (read at opening, plus this rank's own since).
  const std::map<std::string, std::vector<std::string>>& items() const { return items_; }
  const std::vector<std::string>* find(const std::string& key) const;
  // "PATH: line N" of a key read back, for errors about its fields.
  std::string where(const std::string& key) const;
  size_t size() const { return items_.size(); }

  // Appends one item to this rank's file and flushes it.
  void append(const std::string& key, const std::vector<std::string>& fields);
  // This rank's file (for messages).
  const std::string& path() const { return own_->path(); }

  // Rank 0, once every item is gathered: when other ranks' files were in
  // play, journal.txt becomes `ordered` (the one-process order) and the rank
  // files go; a one-process run's own journal.txt is left as it was appended.
  void finish(const Items& ordered);

 private:
  std::string dir_, settings_;
  bool merge_ = false;
  std::vector<Journal> read_;  // other files, read back
  std::unique_ptr<Journal> own_;
  std::map<std::string, std::vector<std::string>> items_;
  std::map<std::string, const Journal*> source_;
};

}  // namespace sqsim::cli
