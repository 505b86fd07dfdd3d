#include "experiments/ppl_ranks.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>

#include "base/error.h"
#include "experiments/format.h"
#include "experiments/interrupt.h"
#include "experiments/work_split.h"
#include "sim/eval/perplexity.h"

namespace sqsim::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const char* const kHead = "head|";  // a run's prepared fields, from the rank that prepared it

}  // namespace

std::vector<QuantRun> ranked_perplexities(const Ranks& ranks, QuantEvaluator& ev, RankJournal* journal,
                                          const std::vector<PplRun>& runs, const std::vector<int32_t>& ids,
                                          int seq_len, RankJournal::Items* ordered, size_t* gathered_bytes) {
  const size_t windows = ids.size() / size_t(seq_len);
  if (seq_len < 2 || windows == 0)
    throw Error("perplexity: " + std::to_string(ids.size()) + " tokens do not fill one window of " +
                std::to_string(seq_len));
  const std::map<std::string, std::vector<std::string>> none;
  const auto& journaled = journal ? journal->items() : none;
  const auto known = [&](const std::string& key) { return journaled.count(key) != 0; };
  // What the journals hold: finished runs, and windows of the others.
  std::vector<char> finished(runs.size(), 0);
  struct Item {
    size_t run, window;
  };
  std::vector<Item> items;
  for (size_t r = 0; r < runs.size(); ++r) {
    if ((finished[r] = known(runs[r].key))) continue;
    for (size_t w = 0; w < windows; ++w)
      if (!known(window_key(runs[r].key, w))) items.push_back({r, w});
  }
  // Calibration, when a run still to measure needs it, is split over the
  // ranks here, while they all still take the same steps.
  bool calibrate = false;
  for (size_t r = 0; r < runs.size(); ++r) calibrate = calibrate || (!finished[r] && ev.needs_calibration(runs[r].config));
  if (calibrate) ev.calibration(ranks);
  std::vector<double> costs;
  for (const Item& it : items) costs.push_back(runs[it.run].cost);
  const std::vector<int> owner = assign_contiguous(costs, ranks.size());
  // Who sends each unfinished run's prepared fields: the owner of its first
  // window still to measure, else (all windows journaled) rank r mod size.
  std::vector<int> head_rank(runs.size(), -1);
  for (size_t i = items.size(); i-- > 0;) head_rank[items[i].run] = owner[i];
  for (size_t r = 0; r < runs.size(); ++r)
    if (!finished[r] && head_rank[r] < 0) head_rank[r] = int(r % size_t(ranks.size()));

  RankJournal::Items mine;
  for (size_t r = 0; r < runs.size(); ++r) {
    std::vector<size_t> todo;
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i].run == r && owner[i] == ranks.rank()) todo.push_back(items[i].window);
    if (todo.empty() && head_rank[r] != ranks.rank()) continue;
    const auto t0 = std::chrono::steady_clock::now();
    QuantEvaluator::Prepared p = ev.prepare(runs[r].config, runs[r].alpha, runs[r].label);
    p.head.seconds = seconds_since(t0);  // the run's seconds: this, plus every window's
    // Consecutive windows go through perplexity() together, which scores
    // window k of its slice exactly as window first+k of the whole stream.
    for (size_t a = 0; a < todo.size();) {
      size_t b = a + 1;
      while (b < todo.size() && todo[b] == todo[b - 1] + 1) ++b;
      const size_t first = todo[a];
      const std::vector<int32_t> slice(ids.begin() + long(first * size_t(seq_len)),
                                       ids.begin() + long((todo[b - 1] + 1) * size_t(seq_len)));
      auto last = std::chrono::steady_clock::now();
      perplexity(ev.model_of(p), slice, seq_len, [&](size_t k, size_t, const WindowNll& nll) {
        const auto now = std::chrono::steady_clock::now();
        const double s = std::chrono::duration<double>(now - last).count();
        last = now;
        const std::string key = window_key(runs[r].key, first + k);
        if (journal) journal->append(key, window_fields(nll, s));
        mine.emplace_back(key, window_fields(nll, s));
        if (ranks.root() && !ev.options().quiet)
          std::fprintf(stderr, "%s: window %zu/%zu nll %.6f (rank 0)\n", runs[r].label.c_str(), first + k + 1,
                       windows, nll.mean);
        if (const int sig = interrupt_signal())
          throw Interrupted(sig, "stopped between windows; nothing more was measured");
      });
      a = b;
    }
    if (head_rank[r] == ranks.rank()) {
      mine.emplace_back(kHead + runs[r].key, quant_run_fields(p.head));
    }
  }

  const std::vector<std::string> parts = ranks.gather(pack_items(mine));
  if (!ranks.root()) return {};
  std::map<std::string, std::vector<std::string>> all = journaled;
  size_t bytes = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) bytes += parts[k].size();
    for (auto& [key, fields] : unpack_items(parts[k])) all[key] = std::move(fields);
  }
  if (gathered_bytes) *gathered_bytes = bytes;
  std::vector<QuantRun> out;
  for (size_t r = 0; r < runs.size(); ++r) {
    const std::string& key = runs[r].key;
    const auto find = [&](const std::string& k) -> const std::vector<std::string>* {
      const auto it = all.find(k);
      return it == all.end() ? nullptr : &it->second;
    };
    if (finished[r]) {
      out.push_back(quant_run_from_fields(all.at(key), journal->where(key)));
      out.back().uncertainty = windows_uncertainty(find, key, out.back().windows, seq_len);
    } else {
      const auto head = all.find(kHead + key);
      if (head == all.end()) throw Error("perplexity: no rank sent the settings of " + runs[r].label);
      QuantRun q = quant_run_from_fields(head->second, "rank " + std::to_string(head_rank[r]) + ", " + key);
      q.from_journal = false;
      std::vector<WindowNll> nll;
      for (size_t w = 0; w < windows; ++w) {
        const std::string wk = window_key(key, w);
        const auto it = all.find(wk);
        if (it == all.end())
          throw Error("perplexity: window " + std::to_string(w) + " of " + runs[r].label + " came from no rank");
        double s = 0;
        nll.push_back(window_from_fields(it->second, wk, &s));
        q.seconds += s;
      }
      // All windows known: perplexity() only sums them, in window order.
      const PerplexityResult pr = perplexity(ev.model_of({}), ids, seq_len, {}, nll);
      q.ppl = pr.ppl;
      q.mean_nll = pr.mean_nll;
      q.tokens = pr.tokens;
      q.windows = pr.windows;
      q.uncertainty = ppl_uncertainty(pr.window_nll, pr.window_sumsq, size_t(seq_len - 1));
      if (journal) journal->append(key, quant_run_fields(q));
      all[key] = quant_run_fields(q);
      out.push_back(q);
    }
  }
  if (ordered) {
    ordered->clear();
    for (const PplRun& run : runs) {
      for (size_t w = 0; w < windows; ++w) {
        const auto it = all.find(window_key(run.key, w));
        if (it != all.end()) ordered->emplace_back(it->first, it->second);
      }
      ordered->emplace_back(run.key, all.at(run.key));
    }
  }
  return out;
}

}  // namespace sqsim::cli
