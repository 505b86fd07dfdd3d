#pragma once
// Perplexities of several runs (a configuration and an α each) on one token
// stream with their windows split across the ranks of an MPI job (docs/mpi.md):
// what journaled_run does for one run in one process, with the same journal
// records, so a one-process --resume can finish an MPI run and back.
#include <string>
#include <vector>

#include "experiments/quant_eval.h"
#include "experiments/rank_journal.h"
#include "experiments/ranks.h"

namespace sqsim::cli {

struct PplRun {
  std::string key;  // its journal key (windows under window_key(key, w))
  ModelQuantConfig config;
  AlphaChoice alpha;
  std::string label;  // for progress lines
  // Relative cost of one window (assignment only; 1 = a plain W8A8 or float
  // window). paper-tables gives LLM.int8() presets 1.6, measured
  // (results/paper-table4/speed/float-part.md: 1.56x of w8a8-pc).
  double cost = 1.0;
};

// Windows not yet journaled are assigned contiguously in (run, window) order
// (assign_contiguous, each window costed by its run's `cost`, so that each
// rank prepares as few models as it can); every rank prepares the runs it measures (α searches and calibration
// included: the same bits on every rank), journals each window in its own file,
// and sends its windows to rank 0, which sums them in window order
// (perplexity()) and journals each run. Rank 0 returns one QuantRun per run in
// order, with all journal items in one-process order in *ordered; the other
// ranks return {}. `gathered_bytes`, when given, gets the bytes rank 0 received.
// Without a journal (null: no --out) nothing is journaled or read back.
std::vector<QuantRun> ranked_perplexities(const Ranks& ranks, QuantEvaluator& ev, RankJournal* journal,
                                          const std::vector<PplRun>& runs, const std::vector<int32_t>& ids,
                                          int seq_len, RankJournal::Items* ordered, size_t* gathered_bytes = nullptr);

}  // namespace sqsim::cli
