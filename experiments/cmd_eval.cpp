// sqsim eval: zero-shot accuracy of a model, float or quantized (every
// option of `sqsim ppl`), on tasks described by data files
// (experiments/configs/tasks/*.task, docs/tasks.md), scored as
// lm-evaluation-harness scores them, with standard errors.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <memory>

#include "base/error.h"
#include "base/io.h"
#include "base/paths.h"
#include "base/str.h"
#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/accuracy_table.h"
#include "experiments/eval_journal.h"
#include "experiments/eval_ranks.h"
#include "experiments/interrupt.h"
#include "experiments/journal.h"
#include "experiments/rank_journal.h"
#include "experiments/json_writer.h"
#include "experiments/model_quant_options.h"
#include "experiments/quant_eval.h"
#include "experiments/provenance.h"
#include "experiments/ranks.h"
#include "experiments/report_table.h"
#include "experiments/sha256.h"
#include "sim/eval/task.h"
#include "sim/eval/zero_shot.h"
#include "sim/formats/json.h"

namespace sqsim::cli {

namespace {

const std::string kTaskDir = std::string(SQSIM_SOURCE_DIR) + "/experiments/configs/tasks/";

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

// What one preset's run shares with the others: the tasks, their items, the
// float model and its calibration, the output settings.
struct EvalContext {
  const Ranks& ranks;
  const std::vector<TaskConfig>& tasks;
  const std::vector<std::vector<TaskItem>>& items;
  QuantEvaluator& ev;
  const ZeroShotOptions& zo;
  bool json = false;
  std::string alpha, alpha_grid;
  bool resume = false;
};

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

// The settings line of --quant replaced by one preset's: each preset's
// journal records the preset it holds (one preset: the line as typed).
std::string preset_settings(const std::string& settings, const std::string& presets, const std::string& preset) {
  if (presets == preset) return settings;  // given or defaulted (journal.h's mark), as typed
  const std::string from = "quant=" + json_quote(presets) + "\n", to = "quant=" + json_quote(preset) + "\n";
  const size_t at = settings.find(from);
  if (at == std::string::npos) return settings + to;
  return settings.substr(0, at) + to + settings.substr(at + from.size());
}

}  // namespace

int run_eval(int argc, char** argv) {
  po::options_description o("eval");
  o.add_options()("model", po::value<std::string>()->default_value("${SQSIM_MODELS}/SmolLM2-135M-Instruct.Q4_1.gguf"),
                  "GGUF model file or Hugging Face checkpoint folder (llama, opt)")(
      "tasks", po::value<std::string>()->default_value("lambada_openai,hellaswag,piqa,winogrande"),
      "comma-separated tasks: names of experiments/configs/tasks/NAME.task, or paths to task configs")(
      "limit", po::value<long>()->default_value(0), "score only the first N items of each task (0 = all)")(
      "alpha", po::value<std::string>()->default_value("0.5"),
      "migration strength when smoothing: one value, 'search' (one global alpha by held-out perplexity) "
      "or 'per-layer' (each group's output error)")(
      "json", po::bool_switch(), "print one JSON object per task instead of text")(
      "pack-rows", po::value<long>()->default_value(512),
      "token rows per forward: whole items are packed into one forward until their requests reach this many "
      "rows (same bits as one request per forward; presets with per-tensor dynamic activation scales always "
      "run one request per forward). 0 = one request per forward");
  add_output_options(o, "write the journal (journal.txt) into this directory: every finished item, so that "
                     "--resume continues an interrupted run; at the end also items.jsonl, one line per item "
                     "(log-likelihood per choice, greedy, tokens, acc)", /*resumable=*/true, /*optional=*/true);
  add_model_quant_options(o);
  add_eval_options(o);
  add_run_options(o);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim eval --tasks piqa,arc_easy [--limit N] [--model FILE.gguf] [--quant PRESET[,PRESET...]]\n"
             "                  [--alpha A|search|per-layer] [--threads N] [--json] [--out DIR [--resume]]\n\n"
             "Zero-shot accuracy as lm-evaluation-harness scores it (docs/tasks.md): for each choice the\n"
             "log-likelihood of \" \" + choice after the context, acc / acc_norm (by the choice's length in\n"
             "characters), LAMBADA's greedy last-word acc and perplexity; every metric with its standard error.\n"
             "Shipped tasks: lambada_openai, hellaswag, piqa, winogrande, arc_easy, boolq.\n\n"
             "Several presets (--quant fp,w8a8,sq-o1) run one after the other on the same items (one model load,\n"
             "one calibration; with --out each journals into DIR/PRESET/) and end with an accuracy table: each\n"
             "task's acc ± stderr, their average, and the paired difference from the first preset (the SmoothQuant\n"
             "paper's Table 1 layout; DIR/accuracy.{md,tex,csv} and DIR/accuracy_differences.*).\n\n" +
                 preset_help(),
             o, vm))
    return 0;
  install_interrupt_handlers();
  const auto gc = thread_limit(run_options(vm).threads);
  const long limit = vm["limit"].as<long>();
  if (limit < 0) throw Error("--limit must be >= 0");
  // Several presets (--quant fp,w8a8,sq-o1): each runs on every task, then
  // the accuracy table compares them (the first is the base of the paired
  // differences). Every preset is checked before any work.
  const std::string preset_list = vm["quant"].as<std::string>();
  const std::vector<std::string> presets = split_list(preset_list, "--quant");
  std::vector<ModelQuantConfig> configs;
  for (const std::string& p : presets) configs.push_back(model_quant_config(vm, p));
  const bool several = presets.size() > 1;
  for (size_t i = 0; i < presets.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (presets[i] == presets[j]) throw Error("--quant: preset '" + presets[i] + "' is listed twice");
  const bool json = vm["json"].as<bool>();
  ZeroShotOptions zo;
  zo.pack_rows = vm["pack-rows"].as<long>();
  if (zo.pack_rows < 0) throw Error("--pack-rows must be >= 0");
  const OutputOptions output = output_options(vm);
  // What a journal must agree on to be resumed: every option that changes
  // a result (not --pack-rows, which changes no bit), and the model's bytes.
  const std::string settings = option_settings(vm, {"out", "force", "resume", "threads", "json", "pack-rows"});

  // Under mpirun (docs/mpi.md) every rank reads the tasks and prepares the
  // model itself (an error on any rank is reported once, naming it), and the
  // items are split across the ranks.
  const Ranks& ranks = Ranks::world();
  // Every task and item is read and checked before the model is loaded.
  std::vector<TaskConfig> tasks;
  std::vector<std::vector<TaskItem>> items;
  std::unique_ptr<QuantEvaluator> evaluator;
  std::string journal_settings;
  ranks.all_or_none([&] {
    for (const std::string& name : split_list(vm["tasks"].as<std::string>(), "--tasks")) {
      tasks.push_back(load_task(task_config_path(name)));
      items.push_back(load_task_items(tasks.back(), size_t(limit)));
    }
    EvalOptions eo = eval_options(vm, vm["model"].as<std::string>());
    eo.quiet = eo.quiet || !ranks.root();
    if (!output.out.empty()) {
      journal_settings = (std::filesystem::is_directory(eo.model_path) ? "model folder " + eo.model_path
                                                                        : "model sha256 " + sha256_file(eo.model_path)) +
                         "\n" + settings;
      if (ranks.root()) prepare_output_dir(output, true);
    }
    evaluator = std::make_unique<QuantEvaluator>(eo);
  });
  const EvalContext cx{ranks, tasks, items, *evaluator, zo, json,
                       vm["alpha"].as<std::string>(), vm["alpha-grid"].as<std::string>(), output.resume};
  std::vector<AccuracyRun> runs;
  for (size_t p = 0; p < presets.size(); ++p) {
    // One preset: DIR/journal.txt as always; several: DIR/PRESET/journal.txt each.
    const std::string dir = output.out.empty() ? "" : several ? output.out + "/" + presets[p] : output.out;
    AccuracyRun run{presets[p], configs[p].describe(), "-", {}};
    run.results = eval_preset(cx, configs[p], dir, preset_settings(journal_settings, preset_list, presets[p]),
                              &run.alpha);
    runs.push_back(std::move(run));
  }
  if (!several || !ranks.root()) return 0;
  ReportTable table = accuracy_table(tasks, runs), diff = accuracy_difference_table(tasks, runs);
  const EvalOptions& eo = evaluator->options();
  std::vector<std::string> prov = {
      "command: `" + command_line(argc, argv) + "`", "sqsim commit " + git_commit(),
      "model: `" + display_path(eo.model_path) + "`" +
          (std::filesystem::is_directory(eo.model_path) ? "" : " (sha256 " + sha256_file(eo.model_path) + ")"),
      "CPU: " + cpu_model(),
      std::string("emulation: ") + (eo.mode == kernels::EmulationMode::kInteger ? "integer" : "fake-quant") +
          ", kernel " + kernels::kernel_path_name(kernels::resolve_kernel_path(eo.path))};
  if (std::any_of(configs.begin(), configs.end(), [&](const ModelQuantConfig& c) { return evaluator->needs_calibration(c); }))
    prov.push_back("calibration: `" + display_path(eo.calib_text) + "`, " + std::to_string(eo.calib_samples) + " windows of " +
                   std::to_string(eo.calib_seq_len) + " tokens");
  for (size_t t = 0; t < tasks.size(); ++t)
    prov.push_back(tasks[t].name + ": " + std::to_string(items[t].size()) + " items" +
                   (limit > 0 ? " (the first " + std::to_string(limit) + ")" : ""));
  table.provenance = diff.provenance = prov;
  if (!json) std::printf("\n%s\n%s", to_markdown(table).c_str(), to_markdown(diff).c_str());
  if (!output.out.empty()) {
    write_report_table(table, output.out + "/accuracy");
    write_report_table(diff, output.out + "/accuracy_differences");
  }
  return 0;
}

}  // namespace sqsim::cli
