#pragma once
// Zero-shot tasks as data (docs/tasks.md): a small JSON config names a JSONL
// file, the templates that make each item's context and choices, the gold
// answer, the preprocessing steps and the metrics. load_task reads and checks
// a config; load_task_items turns the data file into requests, the
// (context, continuation) pairs that lm-evaluation-harness would score.
// Every refusal is one line naming the file, the line and the field.
#include <cstddef>
#include <memory>
// GCC 12's libstdc++ <regex> trips -Wmaybe-uninitialized inside its own
// std::function moves when optimized with the sanitizers (a false positive in
// the library's code, GCC bug 105562); it is silenced for that header alone.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <string>
#include <vector>

#include "sim/formats/json.h"

namespace sqsim {

enum class TaskKind {
  kMultipleChoice,         // one context, one continuation per choice
  kMultipleChoicePartial,  // one context per choice, one shared continuation (WinoGrande)
  kLastWord,               // LAMBADA: the text's last word given the rest
};
const char* task_kind_name(TaskKind k);

// One preprocessing step on a string.
struct TextStep {
  enum Op {
    kStrip,        // Python's str.strip(): whitespace off both ends
    kCapitalize,   // Python's str.capitalize() (ASCII letters; docs/tasks.md)
    kReplace,      // Python's str.replace(from, to): every occurrence, one pass, left to right
    kRegexDelete,  // re.sub(pattern, "", s) (ECMAScript syntax; non-greedy .*? allowed)
    kBefore,       // the text before the first `from` (Error when absent)
    kAfter,        // the text after the first `from` (Error when absent)
  } op = kStrip;
  std::string from, to;  // kReplace; `from` is the pattern of kRegexDelete, the separator of kBefore/kAfter
  std::shared_ptr<const std::regex> regex;  // kRegexDelete, compiled once
};
std::string apply_steps(const std::vector<TextStep>& steps, std::string text);

// A string with {field} / {a.b} / {field|filter|filter:arg} references.
class TextTemplate;

struct TaskConfig {
  std::string name;
  std::string path;         // the config file
  std::string data;         // the JSONL file, resolved
  std::string labels;       // the labels file, resolved ("" = none)
  std::string labels_field; // the field each label line is stored under
  TaskKind kind = TaskKind::kMultipleChoice;
  std::string target_delimiter = " ";
  std::vector<std::string> metrics;  // "acc", "acc_norm", "perplexity"

  std::shared_ptr<const TextTemplate> context;             // kMultipleChoice
  std::vector<std::shared_ptr<const TextTemplate>> choices;   // templates, or:
  std::string choice_list;                                  // a list field ("endings", "question.choices[].text")
  std::vector<std::shared_ptr<const TextTemplate>> contexts;  // kMultipleChoicePartial
  std::shared_ptr<const TextTemplate> continuation;         // kMultipleChoicePartial
  std::shared_ptr<const TextTemplate> text;                 // kLastWord
  std::vector<TextStep> context_steps, choice_steps;

  // Gold: the value of gold_field, either an index (an integer, or a string of
  // digits), mapped through gold_map (its text -> index), or looked up in
  // the list field gold_in (its position there).
  std::string gold_field;
  std::vector<std::pair<std::string, int>> gold_map;
  std::string gold_in;
};

// Reads a task config; relative data paths are under data_dir() (SQSIM_DATA),
// "${SQSIM_DATA}/..." and absolute paths are taken as they are.
TaskConfig load_task(const std::string& path);
TaskConfig parse_task(const std::string& json_text, const std::string& path);

// One (context, continuation) pair, before lm-eval's whitespace move.
struct Request {
  std::string context, continuation;
};

struct TaskItem {
  size_t index = 0;  // 0-based item number (line - 1)
  size_t line = 0;   // 1-based line in the data file
  std::vector<Request> requests;  // one per choice; one for kLastWord
  std::vector<std::string> choices;  // the choice strings (acc_norm divides by their length)
  int gold = -1;                     // -1 for kLastWord
};

// Items of the task's data file, the first `limit` when limit > 0.
std::vector<TaskItem> load_task_items(const TaskConfig& task, size_t limit = 0);
// The same from text (the data file's bytes and the labels file's, if any);
// `data_name` and `labels_name` name them in errors.
std::vector<TaskItem> task_items_from_text(const TaskConfig& task, const std::string& data_text,
                                           const std::string& data_name, const std::string& labels_text,
                                           const std::string& labels_name, size_t limit = 0);

// Python's str.strip() / rstrip() / lstrip() (Unicode whitespace) on UTF-8 text.
std::string python_strip(const std::string& s, bool left, bool right);

// Number of Unicode code points of UTF-8 text (Python's len()).
size_t utf8_length(const std::string& s);

}  // namespace sqsim
