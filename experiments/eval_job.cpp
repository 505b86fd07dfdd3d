#include "experiments/eval_job.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>

#include "base/error.h"
#include "base/io.h"
#include "base/paths.h"
#include "base/str.h"
#include "experiments/eval_journal.h"
#include "experiments/eval_ranks.h"
#include "experiments/interrupt.h"
#include "experiments/json_writer.h"
#include "experiments/model_quant_options.h"
#include "experiments/rank_journal.h"

namespace sqsim::cli {

namespace {

const std::string kTaskDir = std::string(SQSIM_SOURCE_DIR) + "/experiments/configs/tasks/";

}  // namespace

// A shipped task's name, or a path to a config file.
std::string task_config_path(const std::string& name) {
  if (name.find('/') != std::string::npos || name.find('.') != std::string::npos) return expand_path(name);
  const std::string path = kTaskDir + name + ".task";
  if (!std::filesystem::exists(path)) {
    std::vector<std::string> shipped;
    for (const auto& e : std::filesystem::directory_iterator(kTaskDir))
      if (e.path().extension() == ".task") shipped.push_back(e.path().stem().string());
    std::sort(shipped.begin(), shipped.end());
    std::string list;
    for (const std::string& s : shipped) list += (list.empty() ? "" : ", ") + s;
    throw Error(str("--tasks: no task '", name, "' (", path, " does not exist; shipped: ", list,
                    "; or give a path to a task config)"));
  }
  return path;
}

void load_eval_tasks(const std::string& names, long limit, std::vector<TaskConfig>* tasks,
                     std::vector<std::vector<TaskItem>>* items) {
  for (const std::string& name : split_list(names, "--tasks")) {
    tasks->push_back(load_task(task_config_path(name)));
    items->push_back(load_task_items(tasks->back(), size_t(limit)));
  }
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The model the tasks run on, with α chosen as --alpha asks (as `sqsim ppl` does).
struct EvalModel {
  std::unique_ptr<CausalLm> quantized;  // null: the float model
  std::string alpha_text = "-";
};

EvalModel prepare_model(QuantEvaluator& ev, ModelQuantConfig c, const std::string& alpha_text,
                        const std::string& alpha_grid) {
  EvalModel out;
  std::map<std::string, float> per_group;
  if (c.smooth) {
    if (alpha_text == "search" || alpha_text == "per-layer") {
      // QuantEvaluator::run makes the choice; its perplexity measurement is
      // given one 2-token window of the held-out text, a negligible cost.
      AlphaChoice a;
      a.kind = alpha_text == "search" ? AlphaChoice::kGlobalSearch : AlphaChoice::kPerLayerSearch;
      a.grid = parse_alpha_grid(alpha_grid, "--alpha-grid");
      const std::vector<int32_t>& held = ev.holdout_ids();
      if (held.size() < 2) throw Error("--alpha " + alpha_text + ": the held-out calibration text is too short");
      const std::vector<int32_t> probe(held.begin(), held.begin() + 2);
      const QuantRun r = ev.run(c, a, probe, 2, "eval: alpha " + alpha_text);
      if (a.kind == AlphaChoice::kGlobalSearch) {
        double best = std::numeric_limits<double>::infinity();
        for (const auto& [alpha, ppl] : r.global_search)
          if (ppl < best) {
            best = ppl;
            c.alpha = alpha;
          }
      } else {
        per_group = r.alpha_per_group;
      }
      out.alpha_text = r.alpha_text;
    } else {
      const std::vector<float> v = parse_alpha_grid(alpha_text, "--alpha");
      if (v.size() != 1) throw Error("--alpha: eval takes one value, 'search' or 'per-layer'");
      c.alpha = v[0];
      out.alpha_text = alpha_text;
    }
  }
  if (c.quantizes_anything()) {
    QuantizeModelReport report;
    out.quantized = ev.quantized_model(c, per_group, &report);
    if (Ranks::world().root())  // one line per job, not per rank
      std::cerr << "eval: " << report.quantized.size() << " layers quantized, " << report.integer_layers
                << " integer\n";
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// One task's metrics with their standard errors: a JSON line or a text line.
void print_scores(const TaskConfig& task, const TaskScores& scores, const std::string& quant,
                  const std::string& alpha, double seconds, bool json) {
  if (json) {
    JsonWriter w(JsonWriter::kOneLine);
    w.begin_object().member("task", task.name).member("quant", quant).member("alpha", alpha);
    w.member("items", scores.items).key("metrics").begin_object();
    for (const MetricValue& v : scores.metrics)
      w.key(v.name).begin_object().key("value").number(v.value, "%.6f").key("stderr").number(v.stderr_, "%.6f")
          .end_object();
    w.end_object().key("seconds").number(seconds, "%.3f").end_object();
    std::printf("%s\n", w.str().c_str());
  } else {
    std::string m;
    for (const MetricValue& v : scores.metrics) {
      const char* f = v.name == "perplexity" ? "%.3f" : "%.4f";
      m += str(m.empty() ? "" : ", ", v.name, " ", fmt(f, v.value), " ± ", fmt(f, v.stderr_));
    }
    std::printf("%s (%s, alpha %s, %zu items): %s; %.1f s\n", task.name.c_str(), quant.c_str(), alpha.c_str(),
                scores.items, m.c_str(), seconds);
  }
  std::fflush(stdout);
}

// One JSON line per item (DIR/items.jsonl): what lm-eval's --log_samples
// gives per document, for scripts/lm-eval-compare.py.
std::string item_lines(const TaskConfig& task, const std::vector<ItemResult>& results) {
  std::string out;
  for (size_t i = 0; i < results.size(); ++i) {
    const ItemResult& r = results[i];
    JsonWriter w(JsonWriter::kOneLine);
    w.begin_object().member("task", task.name).member("position", i).member("index", r.index);
    w.member("gold", r.gold).key("loglik").begin_array();
    for (double v : r.loglik) w.number(v);
    w.end_array().key("greedy").begin_array();
    for (bool g : r.greedy) w.value(g);
    w.end_array().key("tokens").begin_array();
    for (size_t n : r.tokens) w.value(n);
    w.end_array();
    if (task.kind == TaskKind::kLastWord)
      w.member("acc", r.greedy.at(0));
    else
      w.member("acc", item_acc(r)).member("acc_norm", item_acc_norm(r));
    out += w.end_object().str() + "\n";
  }
  return out;
}

}  // namespace

// One preset on every task: journaled into `dir` (none when empty) under
// `settings`; prints each task's scores. Returns the items' results per task
// (empty on ranks other than 0).
std::vector<std::vector<ItemResult>> eval_preset(const EvalContext& cx, const ModelQuantConfig& config,
                                                 const std::string& dir, const std::string& settings,
                                                 std::string* alpha_text) {
  const Ranks& ranks = cx.ranks;
  const std::vector<TaskConfig>& tasks = cx.tasks;
  const std::vector<std::vector<TaskItem>>& items = cx.items;
  QuantEvaluator& ev = cx.ev;
  const ZeroShotOptions& zo = cx.zo;
  const bool json = cx.json;
  if (ranks.root()) std::cerr << "eval: " << config.name << ": " << config.describe() << "\n";
  // The journal: journal.txt in one process; under mpirun one file per rank,
  // merged into journal.txt by rank 0 at the end (rank_journal.h).
  std::unique_ptr<RankJournal> journal;
  if (!dir.empty()) {
    require_same(ranks, "eval settings", settings);
    ranks.all_or_none([&] {
      if (ranks.root()) {
        std::filesystem::create_directories(dir);
        if (!cx.resume) RankJournal::clear(ranks, dir);
      }
    });
    ranks.all_or_none([&] { journal = std::make_unique<RankJournal>(ranks, dir, settings, cx.resume); });
  }
  // Calibration split over the ranks (one process: just calibration()).
  if (ev.needs_calibration(config)) ev.calibration(ranks);
  EvalModel em;
  ranks.all_or_none([&] { em = prepare_model(ev, config, cx.alpha, cx.alpha_grid); });
  *alpha_text = em.alpha_text;
  const CausalLm& model = em.quantized ? *em.quantized : *ev.float_model().model;
  const Encode encode = [&](const std::string& text) { return tokenize_document(ev.float_model(), text); };
  const bool quiet = ev.options().quiet;
  if (ranks.root() && zo.pack_rows > 0 && !packs_requests(model, zo))
    std::cerr << "eval: " << config.name
              << ": a layer's result depends on the whole batch (per-tensor or per-channel dynamic activation "
                 "scales, LLM.int8()'s outlier columns), so each request runs in its own forward (no packing)\n";
  if (ranks.distributed()) {
    const auto t0 = std::chrono::steady_clock::now();
    // Items any rank's journal holds (every rank reads them all) are not scored again.
    std::vector<std::vector<ItemResult>> journaled(tasks.size());
    std::vector<std::vector<char>> in_journal(tasks.size());
    if (journal) {
      for (size_t t = 0; t < tasks.size(); ++t) {
        journaled[t].resize(items[t].size());
        in_journal[t].assign(items[t].size(), 0);
        for (size_t i = 0; i < items[t].size(); ++i) {
          const std::string key = eval_item_key(tasks[t].name, i);
          if (const auto* f = journal->find(key)) {
            journaled[t][i] = eval_item_from_fields(*f, journal->where(key));
            in_journal[t][i] = 1;
          }
        }
      }
    }
    size_t bytes = 0;
    std::vector<std::vector<ItemResult>> results = evaluate_across_ranks(
        ranks, model, encode, items,
        [&](size_t t, size_t i, const ItemResult& r) {
          if (journal) journal->append(eval_item_key(tasks[t].name, i), eval_item_fields(r));
          if (const int sig = interrupt_signal())
            throw Interrupted(sig, str("stopped in task ", tasks[t].name, " on ", ranks.prefix()));
        },
        &bytes, zo,
        [&](size_t t, size_t i) -> const ItemResult* {
          return journal && in_journal[t][i] ? &journaled[t][i] : nullptr;
        });
    if (!ranks.root()) return {};
    std::cerr << "eval: " << ranks.size() << " ranks; gathered " << bytes << " bytes from the others\n";
    std::string per_item;
    RankJournal::Items ordered;  // what one process appends, in that order
    for (size_t t = 0; t < tasks.size(); ++t) {
      print_scores(tasks[t], score_task(tasks[t], results[t]), config.name, em.alpha_text, seconds_since(t0), json);
      per_item += item_lines(tasks[t], results[t]);
      for (size_t i = 0; i < results[t].size(); ++i)
        ordered.emplace_back(eval_item_key(tasks[t].name, i), eval_item_fields(results[t][i]));
    }
    if (journal) {
      journal->finish(ordered);
      write_file_atomic(dir + "/items.jsonl", per_item);
    }
    return results;
  }

  std::vector<std::vector<ItemResult>> all(tasks.size());
  std::string per_item;
  for (size_t t = 0; t < tasks.size(); ++t) {
    const TaskConfig& task = tasks[t];
    const auto t0 = std::chrono::steady_clock::now();
    // Items the journal holds are taken from it; the others are scored.
    std::vector<ItemResult>& results = all[t];
    results.resize(items[t].size());
    std::vector<TaskItem> todo;
    std::vector<size_t> position;  // of each todo item in the task
    size_t done = 0, correct = 0;
    auto count = [&](const ItemResult& r) {
      ++done;
      correct += task.kind == TaskKind::kLastWord ? size_t(r.greedy.at(0)) : size_t(item_acc(r));
    };
    for (size_t i = 0; i < items[t].size(); ++i) {
      const std::string key = eval_item_key(task.name, i);
      const std::vector<std::string>* fields = journal ? journal->find(key) : nullptr;
      if (!fields) {
        todo.push_back(items[t][i]);
        position.push_back(i);
        continue;
      }
      results[i] = eval_item_from_fields(*fields, journal->where(key));
      if (results[i].index != items[t][i].index || results[i].loglik.size() != items[t][i].requests.size())
        throw Error(journal->where(key) + ": journaled item does not match item " + std::to_string(i) + " of " +
                    task.name);
      count(results[i]);
    }
    if (journal && done > 0 && !quiet)
      std::fprintf(stderr, "%s: %zu items from the journal, %zu to score\n", task.name.c_str(), done, todo.size());
    double last_print = -1;
    size_t k = 0;
    evaluate_items(
        model, encode, todo,
        [&](const ItemResult& r, size_t, size_t) {
          if (journal) journal->append(eval_item_key(task.name, position[k]), eval_item_fields(r));
          results[position[k++]] = r;
          count(r);
          const double s = seconds_since(t0);
          if (!quiet && (s - last_print >= 5 || done == results.size())) {
            std::fprintf(stderr, "%s: %zu/%zu items, acc %.4f, %.1f s\n", task.name.c_str(), done, results.size(),
                         double(correct) / double(done), s);
            last_print = s;
          }
          if (const int sig = interrupt_signal())
            throw Interrupted(sig, str("stopped after item ", done, " of ", task.name));
        },
        zo);
    print_scores(task, score_task(task, results), config.name, em.alpha_text, seconds_since(t0), json);
    per_item += item_lines(task, results);
  }
  if (journal) write_file_atomic(dir + "/items.jsonl", per_item);
  return all;
}

}  // namespace sqsim::cli
