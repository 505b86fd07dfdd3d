#include "experiments/rank_journal.h"

#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "base/io.h"

namespace sqsim::cli {

namespace {

namespace fs = std::filesystem;

std::string own_name(const Ranks& ranks) {
  return ranks.distributed() ? "journal.rank" + std::to_string(ranks.rank()) + ".txt" : Journal::kFileName;
}

bool is_rank_file(const std::string& name) {
  return name.size() > 16 && name.compare(0, 12, "journal.rank") == 0 &&
         name.compare(name.size() - 4, 4, ".txt") == 0 &&
         name.find_first_not_of("0123456789", 12) == name.size() - 4;
}

// journal.rank*.txt in `dir`, sorted by name.
std::vector<std::string> rank_files(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (is_rank_file(e.path().filename().string())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

bool RankJournal::has_rank_files(const std::string& dir) { return !rank_files(dir).empty(); }

void RankJournal::clear(const Ranks& ranks, const std::string& dir) {
  if (!ranks.root()) return;
  std::vector<std::string> names = rank_files(dir);
  if (ranks.distributed()) names.push_back(Journal::kFileName);
  for (const std::string& n : names) {
    std::error_code ec;
    fs::remove(dir + "/" + n, ec);
    if (ec) throw Error(dir + "/" + n + ": cannot remove the journal of an earlier run: " + ec.message());
  }
}

RankJournal::RankJournal(const Ranks& ranks, const std::string& dir, const std::string& settings, bool resume)
    : dir_(dir), settings_(settings), merge_(ranks.distributed()) {
  const std::string own = own_name(ranks);
  if (resume) {
    std::vector<std::string> others = rank_files(dir);
    others.insert(others.begin(), Journal::kFileName);
    for (const std::string& n : others) {
      if (n == own || !fs::exists(dir + "/" + n)) continue;
      read_.push_back(Journal::read_only(dir + "/" + n, settings));
      if (n != Journal::kFileName) merge_ = true;  // a one-process run absorbing an MPI run's files
    }
  }
  own_ = std::make_unique<Journal>(dir + "/" + own, settings, resume);
  for (const Journal& j : read_) {
    for (const auto& [key, fields] : j.items()) {
      items_[key] = fields;
      source_.emplace(key, &j);
    }
  }
  for (const auto& [key, fields] : own_->items()) {
    items_[key] = fields;
    source_.emplace(key, own_.get());
  }
}

const std::vector<std::string>* RankJournal::find(const std::string& key) const {
  const auto it = items_.find(key);
  return it == items_.end() ? nullptr : &it->second;
}

std::string RankJournal::where(const std::string& key) const {
  const auto it = source_.find(key);
  return it == source_.end() ? own_->path() : it->second->where(key);
}

void RankJournal::append(const std::string& key, const std::vector<std::string>& fields) {
  own_->append(key, fields);
  items_[key] = fields;
}

void RankJournal::finish(const Items& ordered) {
  if (!merge_) return;
  write_file_atomic(dir_ + "/" + Journal::kFileName, journal_text(settings_, ordered));
  for (const std::string& n : rank_files(dir_)) {
    std::error_code ec;
    fs::remove(dir_ + "/" + n, ec);  // a leftover is harmless: its items are in journal.txt too
  }
}

}  // namespace sqsim::cli
