// The journal's settings check on --resume (experiments/journal.h,
// "Settings"): an option added later, or a journal written before defaults
// were marked, still resumes while the option keeps its default; a changed
// value, a changed default, or a given value the journal lacks is refused
// with the journal's line and the run's line named.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "base/error.h"
#include "experiments/journal.h"

using sqsim::Error;
using sqsim::cli::Journal;

namespace {

// A journal file holding `settings` (as an earlier run wrote it) and one item.
std::string journal_with(const std::string& name, const std::string& settings) {
  const std::string path = ::testing::TempDir() + "/journal_settings_" + name + ".txt";
  std::remove(path.c_str());
  {
    Journal j(path, settings, /*resume=*/false);
    j.append("window 0", {"1.5"});
  }
  return path;
}

// The error --resume gives, or "" when it resumes (and then the item is there).
std::string resume_error(const std::string& path, const std::string& settings) {
  try {
    Journal j(path, settings, /*resume=*/true);
    EXPECT_NE(j.find("window 0"), nullptr);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

const std::string kMark = sqsim::cli::kDefaultMark;

}  // namespace

TEST(JournalSettings, UnmarkedJournalResumesWhereTheRunMarksTheSameDefaults) {
  const std::string path = journal_with("legacy", "model sha256 ab\nlimit=5\nseed=0\n");
  EXPECT_EQ(resume_error(path, "model sha256 ab\nlimit=5\nseed=0" + kMark + "\n"), "");
}

TEST(JournalSettings, OptionAddedLaterResumesAtItsDefaultOnly) {
  const std::string path = journal_with("added", "limit=5\nseed=0" + kMark + "\n");
  EXPECT_EQ(resume_error(path, "limit=5\nmoe-stats=\"all\"" + kMark + "\nseed=0" + kMark + "\n"), "");
  // Given on the command line, even with the default's value: the old run
  // cannot be known to have used it.
  const std::string given = resume_error(path, "limit=5\nmoe-stats=\"all\"\nseed=0" + kMark + "\n");
  EXPECT_NE(given.find("(nothing where this run has 'moe-stats=\"all\"')"), std::string::npos) << given;
  EXPECT_EQ(given.find('\n'), std::string::npos) << given;
}

TEST(JournalSettings, ChangedValuesAndDefaultsAreRefusedNamingBothLines) {
  const std::string path = journal_with("changed", "limit=5\nseed=0" + kMark + "\n");
  const std::string value = resume_error(path, "limit=4\nseed=0" + kMark + "\n");
  EXPECT_NE(value.find("records other settings than this run's ('limit=5' where this run has 'limit=4')"),
            std::string::npos)
      << value;
  EXPECT_NE(value.find(path), std::string::npos) << value;
  const std::string dflt = resume_error(path, "limit=5\nseed=1" + kMark + "\n");
  EXPECT_NE(dflt.find("('seed=0" + kMark + "' where this run has 'seed=1" + kMark + "')"), std::string::npos)
      << dflt;
  // A line the journal has and the run lacks (an option removed, another model).
  const std::string fewer = resume_error(path, "seed=0" + kMark + "\n");
  EXPECT_NE(fewer.find("('limit=5' where this run has nothing)"), std::string::npos) << fewer;
  // An option removed while another was added at its default: the removed
  // one is named, not the allowed addition.
  const std::string swapped = resume_error(path, "new=1" + kMark + "\nseed=0" + kMark + "\n");
  EXPECT_NE(swapped.find("('limit=5' where this run has nothing)"), std::string::npos) << swapped;
}

TEST(JournalSettings, NonOptionLinesMustMatchExactly) {
  const std::string path = journal_with("model", "model sha256 ab\nseed=0" + kMark + "\n");
  const std::string e = resume_error(path, "model sha256 cd\nseed=0" + kMark + "\n");
  EXPECT_NE(e.find("('model sha256 ab' where this run has 'model sha256 cd')"), std::string::npos) << e;
}
