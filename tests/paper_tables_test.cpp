// `sqsim paper-tables` on a few short windows of the real model: the tables
// it writes, and --resume after SIGINT in the middle of a perplexity gives the
// same numbers as a run that was never stopped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "tests/real_data.h"
#include "tests/run_sqsim.h"

namespace {

using sqsim_test::kModel;
using sqsim_test::kWiki;
using sqsim_test::kPtb;
using sqsim_test::kPtbValid;
using sqsim_test::exists;

// The finished items of an output directory's journal (experiments/journal.h:
// a header line, "= " settings lines, then key TAB field TAB ... lines).
std::vector<std::pair<std::string, std::vector<std::string>>> journal_items(const std::string& dir) {
  std::vector<std::pair<std::string, std::vector<std::string>>> items;
  std::istringstream in(slurp(dir + "/journal.txt"));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    if (line.compare(0, 2, "= ") == 0) continue;
    std::vector<std::string> cells;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, '\t');) cells.push_back(cell);
    const std::string key = cells.front();
    cells.erase(cells.begin());
    items.emplace_back(key, cells);
  }
  return items;
}


std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "sqsim_paper_" + std::to_string(::getpid()) + "_" + name;
}

// Deletes the test's output directories and files when the test ends (each run
// would otherwise leave two 156 MB calibration.bin files in the temp folder).
struct RemovedAtEnd {
  std::vector<std::string> paths;
  ~RemovedAtEnd() {
    std::error_code ec;
    for (const std::string& p : paths) std::filesystem::remove_all(p, ec);
  }
};

// The first 6000 bytes of a text, in a temporary file: tokenizing whole test
// sets would take most of the test's time.
std::string head_of(const std::string& path, const std::string& name) {
  const std::string p = temp_path(name);
  std::ofstream(p, std::ios::binary) << slurp(path).substr(0, 6000);
  return p;
}

// 8 windows of 64 tokens per text, a one-row Table 1, small calibration.
std::string args(const std::string& out, const std::string& table1 = "sq-o1", int seq_len = 64) {
  static const std::string wiki = head_of(kWiki, "wiki.txt"), ptb = head_of(kPtb, "ptb.txt"),
                           calib = head_of(kPtbValid, "calib.txt");
  return "paper-tables --model " + kModel + " --wikitext " + wiki + " --ptb " + ptb + " --calib-text " + calib +
         " --seq-len " + std::to_string(seq_len) + " --max-tokens 512 --table1 " + table1 +
         " --parts table1 --calib-samples 4 --calib-seq-len 64 --holdout-tokens 64 --threads 2 --out " + out;
}

// The journal's perplexities (key and fields) without the seconds field: what
// must not depend on interruptions.
std::vector<std::vector<std::string>> measured(const std::string& dir) {
  std::vector<std::vector<std::string>> rows;
  for (auto [key, fields] : journal_items(dir)) {
    if (key.find("|window ") != std::string::npos) continue;
    fields.pop_back();
    fields.insert(fields.begin(), key);
    rows.push_back(fields);
  }
  return rows;
}

size_t journaled_windows(const std::string& dir) {
  size_t n = 0;
  const std::string text = slurp(dir + "/journal.txt");
  for (size_t at = text.find("|window "); at != std::string::npos; at = text.find("|window ", at + 1)) ++n;
  return n;
}

TEST(PaperTables, ResumeAfterSigintContinuesInTheMiddleOfAPerplexity) {
  for (const std::string& f : {kModel, kWiki, kPtb, kPtbValid})
    if (!exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string whole = temp_path("whole"), cut = temp_path("cut"), log = temp_path("cut.log"),
                    rc = temp_path("cut.rc");
  const RemovedAtEnd cleanup{{whole, cut, log, rc}};
  CliRun r = run(args(whole) + " --force");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto expected = measured(whole);
  ASSERT_EQ(expected.size(), 2u) << r.out;  // sq-o1 on two texts
  const std::string table = slurp(whole + "/table1.md");
  EXPECT_NE(table.find("| sq-o1 |"), std::string::npos) << table;

  // Stopped once the second window of any perplexity is journaled.
  std::remove(log.c_str());
  const std::string cmd = std::string(SQSIM_BINARY) + " " + args(cut) + " --force 2>" + log +
                          " & pid=$!; for i in $(seq 3000); do grep -q \"window 2/\" " + log +
                          " && break; sleep 0.01; done; kill -INT $pid; wait $pid; echo $? > " + rc;
  ASSERT_EQ(std::system(("bash -c '" + cmd + "'").c_str()), 0);
  ASSERT_EQ(slurp(rc), "130\n") << slurp(log);
  EXPECT_LT(measured(cut).size(), expected.size()) << "the run finished before the signal";

  r = run(args(cut) + " --resume");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("windows from the journal"), std::string::npos) << r.out;
  // The resume reads the statistics the first run wrote instead of recalibrating.
  EXPECT_NE(r.out.find("calibration: read from " + cut + "/calibration.bin"), std::string::npos) << r.out;
  EXPECT_EQ(measured(cut), expected);
  // Every window is journaled exactly once (none twice after the resume).
  EXPECT_EQ(journaled_windows(cut), 2u * 8u);
}

TEST(PaperTables, ResumeRefusesADamagedWindowJournal) {
  for (const std::string& f : {kModel, kWiki, kPtb, kPtbValid})
    if (!exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string dir = temp_path("damaged");
  const RemovedAtEnd cleanup{{dir}};
  CliRun r = run(args(dir, "fp") + " --force");
  ASSERT_EQ(r.status, 0) << r.out;
  // A window of a perplexity not measured yet (w8a8), with a damaged number.
  std::ofstream(dir + "/journal.txt", std::ios::app) << "tables|w8a8|WikiText-2|-|window 0\tnot-a-number\t1\n";
  r = run(args(dir, "w8a8") + " --resume");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("journal.txt: line"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("expected a finite number, got 'not-a-number'"), std::string::npos) << r.out;
}

TEST(PaperTables, ResumeRefusesOtherSettings) {
  for (const std::string& f : {kModel, kWiki, kPtb, kPtbValid})
    if (!exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string dir = temp_path("settings");
  const RemovedAtEnd cleanup{{dir}};
  CliRun r = run(args(dir, "fp") + " --force");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run(args(dir, "fp", 32) + " --resume");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("journal.txt records other settings"), std::string::npos) << r.out;
}

}  // namespace

namespace {

// The Markdown row of a table file that starts with "| first |".
std::string md_row(const std::string& file, const std::string& first) {
  const std::string text = slurp(file);
  const size_t at = text.find("\n| " + first + " |");
  return at == std::string::npos ? "" : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

std::vector<std::string> md_cells(const std::string& row) {
  std::vector<std::string> cells;
  std::istringstream in(row);
  for (std::string cell; std::getline(in, cell, '|');) {
    const size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
    if (b != std::string::npos) cells.push_back(cell.substr(b, e - b + 1));
  }
  return cells;
}

std::string table4_args(const std::string& out) {
  std::string a = args(out, "fp");
  const std::string parts = "--parts table1";
  a.replace(a.find(parts), parts.size(), "--parts table4,observers,llm-int8-columns");
  return a + " --table4 fp,sq-o3,llm-int8 --observers absmax,percentile:99.99 --llm-int8-columns llm-int8,sq-llm-int8";
}

// A journal of today's format (window lines "key TAB nll TAB seconds", no
// per-token sums), cut in the middle of PTB: --resume finishes it with the same
// perplexities, and the table says which cells fell back to the window estimator.
TEST(PaperTables, OldWindowLinesResumeWithTheWindowEstimator) {
  for (const std::string& f : {kModel, kWiki, kPtb, kPtbValid})
    if (!exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string dir = temp_path("oldjournal");
  const RemovedAtEnd cleanup{{dir}};
  CliRun r = run(args(dir, "fp") + " --force");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto expected = measured(dir);
  std::string row = md_row(dir + "/table1.md", "fp");
  EXPECT_NE(row.find(" ± "), std::string::npos) << row;
  EXPECT_EQ(row.find("†"), std::string::npos) << "every window has its per-token sums: " << row;
  // Window lines lose their sum of squares; PTB keeps windows 0-3 only.
  std::istringstream in(slurp(dir + "/journal.txt"));
  std::string old, line;
  while (std::getline(in, line)) {
    const size_t w = line.find("|window ");
    if (line.find("|PTB|") != std::string::npos && (w == std::string::npos || std::stoi(line.substr(w + 8)) >= 4))
      continue;
    if (w != std::string::npos) {
      std::vector<std::string> cells;
      std::istringstream fields(line);
      for (std::string cell; std::getline(fields, cell, '\t');) cells.push_back(cell);
      ASSERT_EQ(cells.size(), 4u) << line;  // key, nll, sum of squares, seconds
      line = cells[0] + "\t" + cells[1] + "\t" + cells[3];
    }
    old += line + "\n";
  }
  std::ofstream(dir + "/journal.txt", std::ios::binary | std::ios::trunc) << old;
  std::remove((dir + "/table1.md").c_str());
  r = run(args(dir, "fp") + " --resume");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("4 windows from the journal"), std::string::npos) << r.out;
  EXPECT_EQ(measured(dir), expected);
  // Both cells use the window spread: WikiText-2 (old lines only), PTB (old and new).
  row = md_row(dir + "/table1.md", "fp");
  size_t daggers = 0;
  for (size_t at = row.find("†"); at != std::string::npos; at = row.find("†", at + 1)) ++daggers;
  EXPECT_EQ(daggers, 2u) << row;
  EXPECT_NE(slurp(dir + "/table1.md").find("† marks a perplexity whose windows were journaled without per-token"),
            std::string::npos);
}

}  // namespace

// Table 4, the observer table and the outlier columns from one command; the
// observer table's absmax row is sq-o3 itself (one journal key), and a resume
// rewrites every table from the journal without measuring anything again.
TEST(PaperTables, Table4ObserversAndLlmInt8ColumnsFromOneCommand) {
  for (const std::string& f : {kModel, kWiki, kPtb, kPtbValid})
    if (!exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string dir = temp_path("table4");
  const RemovedAtEnd cleanup{{dir}};
  CliRun r = run(table4_args(dir) + " --force");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* f : {"table4", "observers", "llm_int8_columns", "llm_int8_columns_by_kind"})
    for (const char* ext : {".md", ".tex", ".csv"}) EXPECT_TRUE(exists(dir + "/" + f + ext)) << f << ext;
  EXPECT_TRUE(exists(dir + "/llm_int8_column_indices.csv"));

  const std::vector<std::string> fp = md_cells(md_row(dir + "/table4.md", "FP16 (here float32)"));
  const std::vector<std::string> o3 = md_cells(md_row(dir + "/table4.md", "SmoothQuant-O3"));
  const std::vector<std::string> absmax = md_cells(md_row(dir + "/observers.md", "absmax"));
  const std::vector<std::string> pct = md_cells(md_row(dir + "/observers.md", "percentile:99.99"));
  ASSERT_EQ(fp.size(), 9u) << slurp(dir + "/table4.md");
  ASSERT_EQ(o3.size(), 9u);
  ASSERT_EQ(absmax.size(), 6u) << slurp(dir + "/observers.md");
  ASSERT_EQ(pct.size(), 6u);
  EXPECT_EQ(fp[5], "1");  // ratio to itself
  EXPECT_EQ(absmax[2], o3[4]);  // WikiText-2 ppl
  EXPECT_EQ(absmax[4], o3[6]);  // PTB ppl
  EXPECT_NE(pct[2], absmax[2]);  // a clip below absmax changes the model
  const std::string t4 = slurp(dir + "/table4.md");
  EXPECT_NE(t4.find("- CPU: "), std::string::npos) << t4;
  EXPECT_NE(t4.find("- sqsim commit "), std::string::npos);

  // 210 decomposed layers + header + separator; the by-kind table ends with "all".
  const std::string cols = slurp(dir + "/llm_int8_columns.csv");
  EXPECT_NE(cols.find("model.layers.29.mlp.down_proj,1536,"), std::string::npos) << cols.substr(0, 400);
  const std::vector<std::string> all = md_cells(md_row(dir + "/llm_int8_columns_by_kind.md", "all"));
  ASSERT_EQ(all.size(), 8u) << slurp(dir + "/llm_int8_columns_by_kind.md");
  EXPECT_EQ(all[1], "210");

  // The percentile row and the sq-o3 row are two perplexities per text, not three.
  size_t o3_keys = 0;
  for (const auto& [key, fields] : journal_items(dir))
    if (key.find("|window ") == std::string::npos && key.find("sq-o3") != std::string::npos) ++o3_keys;
  EXPECT_EQ(o3_keys, 4u);

  const std::vector<std::vector<std::string>> before = measured(dir);
  const std::string tables_before = slurp(dir + "/observers.csv");
  r = run(table4_args(dir) + " --resume");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("] "), std::string::npos) << "measured again: " << r.out;
  EXPECT_EQ(measured(dir), before);
}

TEST(PaperTables, Table4OptionsAreRefusedNamingTheOption) {
  const std::pair<const char*, const char*> bad[] = {
      {"--parts table4,tabel5", "--parts 'tabel5'"},
      {"--parts table4 --table4 fp,no-such", "--table4 'no-such'"},
      {"--parts observers --observers absmax,bogus", "--observers 'bogus'"},
      {"--parts observers --observer-preset sq-o1 --observers mse", "--observer-preset sq-o1"},
      {"--parts observers --observer-bins 100", "--observer-bins"},
      {"--parts llm-int8-columns --llm-int8-columns sq-o1", "--llm-int8-columns 'sq-o1'"},
      {"--parts llm-int8-columns --columns-windows 0", "--columns-windows"},
      {"--parts accuracy", "--parts accuracy: gives the tables' presets accuracy columns"},
      {"--parts table1,accuracy --accuracy-limit -1", "--accuracy-limit must be >= 0"},
      {"--parts table1,accuracy --accuracy-tasks piqa,no_such_task", "--tasks: no task 'no_such_task'"}};
  for (const auto& [a, expected] : bad) {
    const CliRun r = run(std::string("paper-tables --out ") + temp_path("refused") + " " + a);
    EXPECT_NE(r.status, 0) << a;
    EXPECT_NE(r.out.find(expected), std::string::npos) << a << ": " << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << a << ": " << r.out;
    EXPECT_FALSE(exists(temp_path("refused") + "/journal.txt")) << a;
  }
}

// The accuracy part: each table row gains the average accuracy and its paired
// difference from fp, equal to `sqsim eval`'s accuracy table for the same
// presets, items and calibration; a resume scores nothing again.
TEST(PaperTables, AccuracyColumnsAreSqsimEvalsAccuracyTable) {
  for (const std::string& f : {kModel, kWiki, kPtb, kPtbValid})
    if (!exists(f)) GTEST_SKIP() << "absent: " << f;
  const std::string dir = temp_path("accuracy"), eval_dir = temp_path("accuracy_eval");
  const RemovedAtEnd cleanup{{dir, eval_dir}};
  std::string a = args(dir, "fp,w8a8,sq-o1");
  a.replace(a.find("--parts table1"), 14, "--parts table1,accuracy --accuracy-tasks piqa --accuracy-limit 5");
  CliRun r = run(a + " --force");
  ASSERT_EQ(r.status, 0) << r.out;
  const size_t calib = a.find("--calib-text ");
  const std::string calib_file = a.substr(calib + 13, a.find(' ', calib + 13) - calib - 13);
  const CliRun e = run("eval --model " + kModel + " --quant fp,w8a8,sq-o1 --tasks piqa --limit 5 "
                       "--calib-text " + calib_file + " --calib-samples 4 --calib-seq-len 64 --holdout-tokens 64 "
                       "--threads 2 --out " + eval_dir);
  ASSERT_EQ(e.status, 0) << e.out;
  const std::string table = slurp(dir + "/table1.md");
  EXPECT_NE(table.find("| accuracy % (1 task) | Δ accuracy vs fp |"), std::string::npos) << table;
  for (const char* preset : {"fp", "w8a8", "sq-o1"}) {
    const std::vector<std::string> t1 = md_cells(md_row(dir + "/table1.md", preset));
    const std::vector<std::string> acc = md_cells(md_row(eval_dir + "/accuracy.md", preset));
    ASSERT_EQ(t1.size(), 7u) << table;
    ASSERT_EQ(acc.size(), 6u) << slurp(eval_dir + "/accuracy.md");
    EXPECT_EQ(t1[5], acc[4]) << preset;  // average ± stderr
    EXPECT_EQ(t1[6], acc[5]) << preset;  // paired difference from fp
    const std::vector<std::string> mine = md_cells(md_row(dir + "/accuracy.md", preset));
    EXPECT_EQ(mine, acc) << preset;
  }
  r = run(a + " --resume");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("piqa: 5 items from the journal, 0 to score"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(dir + "/table1.md").substr(0, table.find("Provenance")),
            table.substr(0, table.find("Provenance")));
}
