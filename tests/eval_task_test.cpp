// Task configs (sim/eval/task.h): the shipped six reproduce the README's
// lm-evaluation-harness rules on real items (expected strings written by hand
// from those rules and the data files), the preprocessing steps, and every
// refusal naming the file, the line and the field.
#include <gtest/gtest.h>

#include <string>

#include "base/error.h"
#include "sim/eval/task.h"
#include "real_data.h"

using namespace sqsim;

namespace {

const std::string kTaskDir = std::string(SQSIM_SOURCE_DIR) + "/experiments/configs/tasks/";

// The task's first n items, or skips the test when its data is absent.
#define LOAD_OR_SKIP(task_name, n, items_var)                                        \
  const TaskConfig task_name##_cfg = load_task(kTaskDir + #task_name ".task");       \
  if (!sqsim_test::exists(task_name##_cfg.data)) GTEST_SKIP() << "no " << task_name##_cfg.data; \
  const std::vector<TaskItem> items_var = load_task_items(task_name##_cfg, n)

std::string error_of(const std::string& config, const std::string& data, const std::string& labels = "") {
  try {
    const TaskConfig t = parse_task(config, "t.task");
    task_items_from_text(t, data, "d.jsonl", labels, "l.lst");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::string kMc =
    R"({"kind": "multiple_choice", "data": "/x.jsonl", "context": "Q: {q}", "choice_list": "endings",
        "gold": "label", "metrics": ["acc", "acc_norm"]})";

}  // namespace

TEST(EvalTask, AllShippedConfigsParse) {
  for (const char* name : {"lambada_openai", "hellaswag", "piqa", "winogrande", "arc_easy", "boolq"}) {
    const TaskConfig t = load_task(kTaskDir + name + ".task");
    EXPECT_EQ(t.name, name);
    EXPECT_EQ(t.data.rfind(data_dir() + "/tasks/", 0), 0u) << t.data;
  }
}

TEST(EvalTask, LambadaSplitsAtTheLastAsciiSpace) {
  LOAD_OR_SKIP(lambada_openai, 0, items);
  ASSERT_EQ(items.size(), 5153u);
  ASSERT_EQ(items[0].requests.size(), 1u);
  const Request& r = items[0].requests[0];
  EXPECT_EQ(r.continuation, " signs");
  EXPECT_EQ(r.context.substr(0, 27), "In my palm is a clear stone");
  const std::string tail = "his mouth curved in a confident grin, I don't care about";
  EXPECT_EQ(r.context.substr(r.context.size() - tail.size()), tail);
  EXPECT_EQ(items[0].gold, -1);
}

TEST(EvalTask, HellaswagPreprocessing) {
  LOAD_OR_SKIP(hellaswag, 0, items);
  ASSERT_EQ(items.size(), 10042u);
  // Item 0: "he" capitalized; endings as they are.
  EXPECT_EQ(items[0].requests[0].context, "Roof shingle removal: A man is sitting on a roof. He");
  EXPECT_EQ(items[0].choices[0], "is using wrap to wrap a pair of skis.");
  EXPECT_EQ(items[0].requests[3].continuation, " starts pulling up roofing on a roof.");
  EXPECT_EQ(items[0].gold, 3);
  // Item 3243: " [title]" -> ". ", [header]/[step]/[substeps] deleted, double spaces halved once,
  // strip before the deletions (so an ending that began with "[title]" keeps a leading space).
  const TaskItem& it = items[3243];
  EXPECT_EQ(it.requests[0].context,
            "Personal Care and Style: How to become a fashion consultant. Obtain your high school diploma or ged. "
            "This job requires a high school diploma or equivalent, so make sure to apply yourself and finish "
            "school. If your high school offers these classes, take art, design, and sewing to familiarize "
            "yourself with foundational concepts in fashion.");
  EXPECT_EQ(it.choices[0],
            " Many high schools have classes offered for their students who do not have a high school diploma, "
            "so be sure to register to take these classes and find a job in your field.. Search for entry-level "
            "positions in fashion industries.");
  EXPECT_EQ(it.choices[3],
            " Earn a bachelor's degree in a fashion-related field. Degrees for the fashion industry include art, "
            "fashion merchandising, and marketing.");
  EXPECT_EQ(it.requests[3].continuation, "  Earn a bachelor's degree in a fashion-related field. Degrees for the "
                                         "fashion industry include art, fashion merchandising, and marketing.");
  EXPECT_EQ(it.gold, 3);
}

TEST(EvalTask, PiqaUsesTheLabelsFile) {
  LOAD_OR_SKIP(piqa, 2, items);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].requests[0].context,
            "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:");
  EXPECT_EQ(items[0].gold, 0);
  EXPECT_EQ(items[1].requests[0].context, "Question: dresser\nAnswer:");
  EXPECT_EQ(items[1].choices[0], "replace drawer with bobby pin ");  // no preprocessing in PIQA
  EXPECT_EQ(items[1].requests[1].continuation, " finish, woodgrain with  bobby pin ");
  EXPECT_EQ(items[1].gold, 1);
  EXPECT_EQ(load_task_items(piqa_cfg).size(), 1838u);
}

TEST(EvalTask, WinograndePartialContexts) {
  LOAD_OR_SKIP(winogrande, 3, items);
  ASSERT_EQ(items[0].requests.size(), 2u);
  EXPECT_EQ(items[0].requests[0].context, "Sarah was a much better surgeon than Maria so Sarah");
  EXPECT_EQ(items[0].requests[1].context, "Sarah was a much better surgeon than Maria so Maria");
  EXPECT_EQ(items[0].requests[0].continuation, " always got the easier cases.");
  EXPECT_EQ(items[0].requests[1].continuation, " always got the easier cases.");
  EXPECT_EQ(items[0].gold, 1);  // answer "2"
  EXPECT_EQ(items[1].gold, 0);  // answer "1"
  EXPECT_EQ(items[2].requests[0].context,
            "They were worried the wine would ruin the bed and the blanket, but the blanket");
  EXPECT_EQ(items[2].requests[1].continuation, " was't ruined.");
}

TEST(EvalTask, ArcEasyGoldFromAnswerKey) {
  LOAD_OR_SKIP(arc_easy, 0, items);
  ASSERT_EQ(items.size(), 2376u);
  EXPECT_EQ(items[0].requests[0].context,
            "Question: Which statement best explains why photosynthesis is the foundation of most food webs?\n"
            "Answer:");
  EXPECT_EQ(items[0].requests[0].continuation, " Sunlight is the source of energy for nearly all ecosystems.");
  EXPECT_EQ(items[0].gold, 0);
  // Digit labels 1-4: answerKey "2" is the second choice.
  EXPECT_EQ(items[14].choices, (std::vector<std::string>{"air", "elements", "water", "soil"}));
  EXPECT_EQ(items[14].gold, 1);
  // Three choices.
  EXPECT_EQ(items[93].choices, (std::vector<std::string>{"decrease", "increase", "remain the same"}));
  EXPECT_EQ(items[93].gold, 1);
}

TEST(EvalTask, BoolqNoYes) {
  LOAD_OR_SKIP(boolq, 2, items);
  const Request& r = items[1].requests[1];
  const std::string head = "Property tax -- Property tax or 'house tax' is a local tax on buildings";
  EXPECT_EQ(r.context.substr(0, head.size()), head);
  const std::string tail =
      "falling in the first two brackets.\nQuestion: is house tax and property tax are same?\nAnswer:";
  EXPECT_EQ(r.context.substr(r.context.size() - tail.size()), tail);
  EXPECT_EQ(items[1].requests[0].continuation, " no");
  EXPECT_EQ(r.continuation, " yes");
  EXPECT_EQ(items[1].gold, 1);  // label true
}

TEST(EvalTask, Steps) {
  TextStep cap{TextStep::kCapitalize, "", "", nullptr};
  EXPECT_EQ(apply_steps({cap}, "the LADY"), "The lady");
  TextStep rep{TextStep::kReplace, "  ", " ", nullptr};
  EXPECT_EQ(apply_steps({rep}, "a   b    c"), "a  b  c");  // one pass, left to right
  EXPECT_EQ(apply_steps({{TextStep::kStrip, "", "", nullptr}}, "\xC2\xA0 x \n"), "x");  // U+00A0 is whitespace
  TextStep rx{TextStep::kRegexDelete, "\\[.*?\\]", "", std::make_shared<const std::regex>("\\[.*?\\]")};
  EXPECT_EQ(apply_steps({rx}, "a [b] c [d]"), "a  c ");  // non-greedy
  EXPECT_EQ(utf8_length("caf\xC3\xA9"), 4u);
  EXPECT_EQ(python_strip("  a b \t", false, true), "  a b");
}

TEST(EvalTask, TemplatesAndGoldForms) {
  const std::string cfg =
      R"({"kind": "multiple_choice", "data": "/x.jsonl", "context": "{{{a.b}}} {c|strip|capitalize}!",
          "choices": ["{x}", "fixed"], "gold": "g", "gold_map": {"false": 0, "true": 1}, "metrics": ["acc"]})";
  const TaskConfig t = parse_task(cfg, "t.task");
  const auto items =
      task_items_from_text(t, R"({"a": {"b": "B"}, "c": "  hello World ", "x": "X", "g": true})" "\n", "d", "", "");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].requests[0].context, "{B} Hello world!");
  EXPECT_EQ(items[0].choices, (std::vector<std::string>{"X", "fixed"}));
  EXPECT_EQ(items[0].gold, 1);
  EXPECT_EQ(items[0].line, 1u);
}

// ---- refusals: one line naming the file, the line and the field

TEST(EvalTask, MissingFieldNamesLineAndField) {
  const std::string e = error_of(kMc, R"({"q": "a", "endings": ["x"], "label": 0})" "\n"
                                      R"({"q": "b", "endings": ["x"]})" "\n");
  EXPECT_NE(e.find("d.jsonl:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("field 'label'"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(EvalTask, TemplateNamingAbsentFieldIsRefused) {
  std::string cfg = kMc;
  cfg.replace(cfg.find("{q}"), 3, "{question.stem}");
  const std::string e = error_of(cfg, R"({"q": "a", "endings": ["x"], "label": 0})" "\n");
  EXPECT_NE(e.find("d.jsonl:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("field 'question'"), std::string::npos) << e;
  EXPECT_NE(e.find("context template"), std::string::npos) << e;
}

TEST(EvalTask, GoldOutOfRangeIsRefused) {
  const std::string e = error_of(kMc, R"({"q": "a", "endings": ["x", "y"], "label": 2})" "\n");
  EXPECT_NE(e.find("d.jsonl:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("field 'label'"), std::string::npos) << e;
  EXPECT_NE(e.find("out of range for 2 choices"), std::string::npos) << e;
}

TEST(EvalTask, EmptyChoiceListIsRefused) {
  const std::string e = error_of(kMc, R"({"q": "a", "endings": [], "label": 0})" "\n");
  EXPECT_NE(e.find("d.jsonl:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("field 'endings'"), std::string::npos) << e;
  EXPECT_NE(e.find("empty list"), std::string::npos) << e;
}

TEST(EvalTask, InvalidUtf8IsRefused) {
  const std::string e = error_of(kMc, "{\"q\": \"a\", \"endings\": [\"x\"], \"label\": 0}\n"
                                      "{\"q\": \"b\xff\", \"endings\": [\"x\"], \"label\": 0}\n");
  EXPECT_NE(e.find("d.jsonl:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("UTF-8"), std::string::npos) << e;
  const std::string cfg =
      R"({"kind": "multiple_choice", "data": "/x", "labels": "/l", "labels_field": "lab", "context": "{q}",
          "choices": ["a", "b"], "gold": "lab", "metrics": ["acc"]})";
  const std::string l = error_of(cfg, R"({"q": "a"})" "\n", "\xc3\n");
  EXPECT_NE(l.find("l.lst: invalid UTF-8"), std::string::npos) << l;
}

TEST(EvalTask, GoldNotAmongLabels) {
  const std::string cfg =
      R"({"kind": "multiple_choice", "data": "/x", "context": "{q}", "choice_list": "c[].text", "gold": "k",
          "gold_in": "c[].label", "metrics": ["acc"]})";
  const std::string e =
      error_of(cfg, R"({"q": "a", "c": [{"text": "t", "label": "A"}], "k": "B"})" "\n");
  EXPECT_NE(e.find("d.jsonl:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("value 'B' is not among field 'c[].label'"), std::string::npos) << e;
}

TEST(EvalTask, LabelsFileMustMatchTheItems) {
  const std::string cfg =
      R"({"kind": "multiple_choice", "data": "/x", "labels": "/l", "labels_field": "lab", "context": "{q}",
          "choices": ["a", "b"], "gold": "lab", "metrics": ["acc"]})";
  EXPECT_NE(error_of(cfg, R"({"q": "a"})" "\n" R"({"q": "b"})" "\n", "1\n").find("l.lst: 1 labels for 2 items"),
            std::string::npos);
}

TEST(EvalTask, WinograndeWithoutBlankIsRefused) {
  const TaskConfig t = load_task(kTaskDir + "winogrande.task");
  try {
    task_items_from_text(t, R"({"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"})",
                         "w.jsonl", "", "");
    FAIL() << "accepted a sentence without _";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("w.jsonl:1: field 'sentence'"), std::string::npos) << e.what();
  }
}

TEST(EvalTask, BadConfigsAreRefused) {
  auto config_error = [](const std::string& cfg) {
    try {
      parse_task(cfg, "t.task");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string c = kMc;
  EXPECT_NE(config_error(c.replace(c.find("\"kind\""), 6, "\"knd\"")).find("t.task: unknown key \"knd\""),
            std::string::npos);
  c = kMc;
  EXPECT_NE(config_error(c.replace(c.find("{q}"), 3, "{q")).find("unmatched '{'"), std::string::npos);
  c = kMc;
  EXPECT_NE(config_error(c.replace(c.find("\"acc\", "), 7, "\"f1\", ")).find("'f1' is not one of"),
            std::string::npos);
  c = kMc;
  c.insert(c.size() - 1, R"(, "choice_steps": [{"regex_delete": "[unclosed"}])");
  EXPECT_NE(config_error(c).find("bad regex_delete pattern"), std::string::npos);
  c = kMc;
  EXPECT_NE(config_error(c.replace(c.find("{q}"), 3, "{q|upper}")).find("unknown filter 'upper'"),
            std::string::npos);
  c = kMc;
  EXPECT_NE(config_error(c.replace(c.find("\"gold\": \"label\", "), 17, "")).find("missing key \"gold\""),
            std::string::npos);
}
