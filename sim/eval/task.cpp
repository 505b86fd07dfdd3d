#include "sim/eval/task.h"

#include <regex>

#include "base/error.h"
#include "base/io.h"
#include "base/paths.h"
#include "base/str.h"

namespace sqsim {

const char* task_kind_name(TaskKind k) {
  switch (k) {
    case TaskKind::kMultipleChoice: return "multiple_choice";
    case TaskKind::kMultipleChoicePartial: return "multiple_choice_partial";
    case TaskKind::kLastWord: return "loglikelihood_last_word";
  }
  return "?";
}

// ---------------------------------------------------------------- UTF-8 text

namespace {

// Decodes the code point starting at s[i] (advancing i); invalid bytes count as one code point each.
uint32_t next_code_point(const std::string& s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
  if (extra <= 0 || i + size_t(extra) >= s.size()) {
    ++i;
    return c;
  }
  uint32_t cp = c & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + size_t(k)]);
    if ((d >> 6) != 2) {
      ++i;
      return c;
    }
    cp = (cp << 6) | (d & 0x3F);
  }
  i += size_t(extra) + 1;
  return cp;
}

// Python's str.isspace() for one code point.
bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

bool valid_utf8(const std::string& s, size_t* bad) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const int extra = c < 0x80 ? 0 : (c >= 0xC2 && c <= 0xDF) ? 1 : (c >> 4) == 14 ? 2 : (c >= 0xF0 && c <= 0xF4) ? 3 : -1;
    bool ok = extra >= 0 && i + size_t(extra) < s.size();
    uint32_t cp = c;
    if (ok && extra > 0) {
      cp = c & (0x3F >> extra);
      for (int k = 1; k <= extra && ok; ++k) {
        const unsigned char d = static_cast<unsigned char>(s[i + size_t(k)]);
        ok = (d >> 6) == 2;
        cp = (cp << 6) | (d & 0x3F);
      }
      if (ok) ok = !(extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) && !(extra == 3 && (cp < 0x10000 || cp > 0x10FFFF));
    }
    if (!ok) {
      *bad = i;
      return false;
    }
    i += size_t(extra) + 1;
  }
  return true;
}

}  // namespace

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) next_code_point(s, i);
  return n;
}

std::string python_strip(const std::string& s, bool left, bool right) {
  // Code point boundaries and whether each is whitespace.
  std::vector<size_t> starts;
  std::vector<bool> space;
  for (size_t i = 0; i < s.size();) {
    starts.push_back(i);
    space.push_back(is_python_space(next_code_point(s, i)));
  }
  starts.push_back(s.size());
  size_t b = 0, e = space.size();
  if (left)
    while (b < e && space[b]) ++b;
  if (right)
    while (e > b && space[e - 1]) --e;
  return s.substr(starts[b], starts[e] - starts[b]);
}

// ---------------------------------------------------------------- steps

std::string apply_steps(const std::vector<TextStep>& steps, std::string text) {
  for (const TextStep& st : steps) {
    switch (st.op) {
      case TextStep::kStrip: text = python_strip(text, true, true); break;
      case TextStep::kCapitalize:
        for (size_t i = 0; i < text.size(); ++i) {
          char& c = text[i];
          if (i == 0 && c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
          if (i > 0 && c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        }
        break;
      case TextStep::kReplace: {
        if (st.from.empty()) break;
        std::string out;
        size_t pos = 0;
        for (size_t hit; (hit = text.find(st.from, pos)) != std::string::npos; pos = hit + st.from.size())
          out += text.substr(pos, hit - pos) + st.to;
        text = out + text.substr(pos);
        break;
      }
      case TextStep::kRegexDelete: text = std::regex_replace(text, *st.regex, ""); break;
      case TextStep::kBefore:
      case TextStep::kAfter: {
        const size_t p = text.find(st.from);
        if (p == std::string::npos) throw Error(str("separator '", st.from, "' not found"));
        text = st.op == TextStep::kBefore ? text.substr(0, p) : text.substr(p + st.from.size());
        break;
      }
    }
  }
  return text;
}

namespace {

// "strip", "capitalize", "before:_", "after:_" (the filters of a template).
TextStep parse_filter(const std::string& f, const std::string& what) {
  TextStep s;
  const size_t colon = f.find(':');
  const std::string name = f.substr(0, colon), arg = colon == std::string::npos ? "" : f.substr(colon + 1);
  if (name == "strip" || name == "capitalize") {
    if (colon != std::string::npos) throw Error(str(what, ": filter '", name, "' takes no argument"));
    s.op = name == "strip" ? TextStep::kStrip : TextStep::kCapitalize;
  } else if (name == "before" || name == "after") {
    if (arg.empty()) throw Error(str(what, ": filter '", name, "' needs a separator (", name, ":_)"));
    s.op = name == "before" ? TextStep::kBefore : TextStep::kAfter;
    s.from = arg;
  } else {
    throw Error(str(what, ": unknown filter '", f, "' (strip, capitalize, before:S, after:S)"));
  }
  return s;
}

// A step of a "..._steps" list: "strip", "capitalize", {"replace": [from, to]}, {"regex_delete": pattern}.
TextStep parse_step(const JsonValue& v, const std::string& what) {
  if (v.is_string()) return parse_filter(v.string, what);
  if (!v.is_object() || v.object.size() != 1)
    throw Error(str(what, ": a step is \"strip\", \"capitalize\", {\"replace\": [FROM, TO]} or {\"regex_delete\": PATTERN}"));
  const auto& [key, arg] = v.object[0];
  TextStep s;
  if (key == "replace") {
    if (!arg.is_array() || arg.array.size() != 2 || !arg.array[0].is_string() || !arg.array[1].is_string() ||
        arg.array[0].string.empty())
      throw Error(str(what, ": \"replace\" takes [FROM, TO], two strings, FROM not empty"));
    s.op = TextStep::kReplace;
    s.from = arg.array[0].string;
    s.to = arg.array[1].string;
  } else if (key == "regex_delete") {
    if (!arg.is_string()) throw Error(str(what, ": \"regex_delete\" takes a pattern string"));
    try {
      s.regex = std::make_shared<const std::regex>(arg.string, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error(str(what, ": bad regex_delete pattern '", arg.string, "': ", e.what()));
    }
    s.op = TextStep::kRegexDelete;
    s.from = arg.string;
  } else {
    throw Error(str(what, ": unknown step '", key, "' (replace, regex_delete)"));
  }
  return s;
}

// The text of a scalar JSON value: a string as it is, an integer in decimal, a boolean as true/false.
bool scalar_text(const JsonValue& v, std::string* out) {
  if (v.is_string()) *out = v.string;
  else if (v.is_number() && v.is_int) *out = std::to_string(v.integer);
  else if (v.is_bool()) *out = v.boolean ? "true" : "false";
  else return false;
  return true;
}

// Thrown while rendering an item; the item loader adds the file and line.
struct ItemError {
  std::string message;
};

// Values at a path ("a.b", "a.list[].b"); `list` says whether a [] was crossed.
std::vector<const JsonValue*> resolve(const JsonValue& root, const std::string& path, bool* list) {
  std::vector<const JsonValue*> cur{&root};
  *list = false;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t dot = path.find('.', pos);
    if (dot == std::string::npos) dot = path.size();
    std::string key = path.substr(pos, dot - pos);
    const bool each = key.size() > 2 && key.compare(key.size() - 2, 2, "[]") == 0;
    if (each) key.resize(key.size() - 2);
    std::vector<const JsonValue*> next;
    for (const JsonValue* v : cur) {
      const JsonValue* m = v->find(key);
      if (!m) throw ItemError{str("field '", path.substr(0, dot), "' is missing")};
      if (each) {
        if (!m->is_array()) throw ItemError{str("field '", path.substr(0, dot - 2), "' is not a list")};
        for (const JsonValue& e : m->array) next.push_back(&e);
      } else {
        next.push_back(m);
      }
    }
    *list = *list || each;
    cur = std::move(next);
    pos = dot + 1;
  }
  return cur;
}

void check_path(const std::string& path, bool allow_list, const std::string& what) {
  if (path.empty()) throw Error(what + ": empty field path");
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t dot = path.find('.', pos);
    if (dot == std::string::npos) dot = path.size();
    std::string key = path.substr(pos, dot - pos);
    if (key.size() > 2 && key.compare(key.size() - 2, 2, "[]") == 0) {
      if (!allow_list) throw Error(str(what, ": '", path, "': [] is only allowed in choice_list and gold_in"));
      key.resize(key.size() - 2);
    }
    if (key.empty() || key.find_first_of("[]{}|") != std::string::npos)
      throw Error(str(what, ": bad field path '", path, "'"));
    pos = dot + 1;
  }
}

}  // namespace

// ---------------------------------------------------------------- templates

class TextTemplate {
 public:
  // `what` names the template in errors ("t.task: \"context\""); `key` is its config key.
  TextTemplate(const std::string& text, const std::string& what, const std::string& key) : what_(key) {
    std::string lit;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
        lit += c;
        ++i;
      } else if (c == '}') {
        throw Error(str(what, ": unmatched '}' at offset ", i, " (write }} for a literal brace)"));
      } else if (c == '{') {
        const size_t close = text.find('}', i);
        if (close == std::string::npos)
          throw Error(str(what, ": unmatched '{' at offset ", i, " (write {{ for a literal brace)"));
        const std::string ref = text.substr(i + 1, close - i - 1);
        Part p;
        p.literal = lit;
        lit.clear();
        size_t bar = ref.find('|');
        p.field = ref.substr(0, bar);
        check_path(p.field, false, what);
        while (bar != std::string::npos) {
          const size_t nb = ref.find('|', bar + 1);
          p.filters.push_back(parse_filter(ref.substr(bar + 1, nb == std::string::npos ? nb : nb - bar - 1), what));
          bar = nb;
        }
        parts_.push_back(std::move(p));
        i = close;
      } else {
        lit += c;
      }
    }
    tail_ = lit;
  }

  std::string render(const JsonValue& item) const {
    std::string out;
    for (const Part& p : parts_) {
      out += p.literal;
      bool list = false;
      const JsonValue* found = nullptr;
      try {
        found = resolve(item, p.field, &list)[0];
      } catch (const ItemError& e) {
        throw ItemError{str(e.message, " (named by the ", what_, " template)")};
      }
      const JsonValue& v = *found;
      std::string t;
      if (!scalar_text(v, &t))
        throw ItemError{str("field '", p.field, "' (named by the ", what_, " template) is a ", json_type_name(v.type),
                            ", not text")};
      try {
        out += apply_steps(p.filters, t);
      } catch (const Error& e) {
        throw ItemError{str("field '", p.field, "' (named by the ", what_, " template): ", e.what())};
      }
    }
    return out + tail_;
  }

  const std::string& what() const { return what_; }

 private:
  struct Part {
    std::string literal;  // text before the reference
    std::string field;
    std::vector<TextStep> filters;
  };
  std::vector<Part> parts_;
  std::string tail_;
  std::string what_;
};

// ---------------------------------------------------------------- config

namespace {

std::string resolve_data_path(const std::string& p) {
  if (p.rfind("${", 0) == 0) return expand_path(p);
  if (!p.empty() && p[0] == '/') return p;
  return data_dir() + "/" + p;
}

std::string basename_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string b = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = b.find('.');
  return dot == std::string::npos ? b : b.substr(0, dot);
}

}  // namespace

TaskConfig parse_task(const std::string& json_text, const std::string& path) {
  const JsonValue root = parse_json(json_text, path);
  if (!root.is_object()) throw Error(path + ": a task config is a JSON object");
  static const char* kKeys[] = {"name", "kind", "data", "labels", "labels_field", "target_delimiter", "context",
                                "choices", "choice_list", "contexts", "continuation", "text", "context_steps",
                                "choice_steps", "gold", "gold_map", "gold_in", "metrics", "description"};
  for (const auto& [k, v] : root.object) {
    bool known = false;
    for (const char* key : kKeys) known = known || k == key;
    if (!known) throw Error(str(path, ": unknown key \"", k, "\" (docs/tasks.md lists the keys)"));
  }
  TaskConfig t;
  t.path = path;
  t.name = root.find("name") ? json_string(root, "name", path) : basename_of(path);
  const std::string kind = json_string(root, "kind", path);
  if (kind == "multiple_choice") t.kind = TaskKind::kMultipleChoice;
  else if (kind == "multiple_choice_partial") t.kind = TaskKind::kMultipleChoicePartial;
  else if (kind == "loglikelihood_last_word") t.kind = TaskKind::kLastWord;
  else
    throw Error(str(path, ": \"kind\" '", kind,
                    "' is not multiple_choice, multiple_choice_partial or loglikelihood_last_word"));
  t.data = resolve_data_path(json_string(root, "data", path));
  if (root.find("labels")) {
    t.labels = resolve_data_path(json_string(root, "labels", path));
    t.labels_field = json_string(root, "labels_field", path);
    check_path(t.labels_field, false, path + ": \"labels_field\"");
    if (t.labels_field.find('.') != std::string::npos)
      throw Error(path + ": \"labels_field\" must be a plain name, not a path");
  } else if (root.find("labels_field")) {
    throw Error(path + ": \"labels_field\" without \"labels\"");
  }
  if (root.find("target_delimiter")) t.target_delimiter = json_string(root, "target_delimiter", path);

  auto tmpl = [&](const JsonValue& v, const std::string& key) {
    if (!v.is_string()) throw Error(str(path, ": \"", key, "\" must be a template string"));
    return std::make_shared<const TextTemplate>(v.string, str(path, ": \"", key, "\""), key);
  };
  auto tmpl_list = [&](const std::string& key) {
    const JsonValue& v = json_member(root, key, path);
    if (!v.is_array() || v.array.empty()) throw Error(str(path, ": \"", key, "\" must be a non-empty list of templates"));
    std::vector<std::shared_ptr<const TextTemplate>> out;
    for (size_t i = 0; i < v.array.size(); ++i) out.push_back(tmpl(v.array[i], str(key, "[", i, "]")));
    return out;
  };
  auto steps = [&](const std::string& key) {
    std::vector<TextStep> out;
    if (const JsonValue* v = root.find(key)) {
      if (!v->is_array()) throw Error(str(path, ": \"", key, "\" must be a list of steps"));
      for (size_t i = 0; i < v->array.size(); ++i)
        out.push_back(parse_step(v->array[i], str(path, ": \"", key, "\"[", i, "]")));
    }
    return out;
  };
  auto refuse = [&](std::initializer_list<const char*> keys) {
    for (const char* k : keys)
      if (root.find(k)) throw Error(str(path, ": \"", k, "\" does not apply to kind ", kind));
  };
  t.context_steps = steps("context_steps");
  t.choice_steps = steps("choice_steps");
  switch (t.kind) {
    case TaskKind::kMultipleChoice:
      refuse({"contexts", "continuation", "text"});
      t.context = tmpl(json_member(root, "context", path), "context");
      if (root.find("choices") && root.find("choice_list"))
        throw Error(path + ": give \"choices\" or \"choice_list\", not both");
      if (root.find("choice_list")) {
        t.choice_list = json_string(root, "choice_list", path);
        check_path(t.choice_list, true, path + ": \"choice_list\"");
      } else if (root.find("choices")) {
        t.choices = tmpl_list("choices");
      } else {
        throw Error(path + ": missing key \"choices\" (or \"choice_list\")");
      }
      break;
    case TaskKind::kMultipleChoicePartial:
      refuse({"context", "choices", "choice_list", "text"});
      t.contexts = tmpl_list("contexts");
      t.continuation = tmpl(json_member(root, "continuation", path), "continuation");
      break;
    case TaskKind::kLastWord:
      refuse({"context", "choices", "choice_list", "contexts", "continuation", "choice_steps", "gold", "gold_map",
              "gold_in"});
      t.text = tmpl(json_member(root, "text", path), "text");
      break;
  }
  if (t.kind != TaskKind::kLastWord) {
    t.gold_field = json_string(root, "gold", path);
    check_path(t.gold_field, false, path + ": \"gold\"");
    if (root.find("gold_map") && root.find("gold_in")) throw Error(path + ": give \"gold_map\" or \"gold_in\", not both");
    if (const JsonValue* m = root.find("gold_map")) {
      if (!m->is_object() || m->object.empty()) throw Error(path + ": \"gold_map\" must be an object {TEXT: INDEX}");
      for (const auto& [k, v] : m->object) {
        if (!v.is_int || v.integer < 0) throw Error(str(path, ": \"gold_map\" value of '", k, "' must be an index >= 0"));
        t.gold_map.emplace_back(k, int(v.integer));
      }
    }
    if (root.find("gold_in")) {
      t.gold_in = json_string(root, "gold_in", path);
      check_path(t.gold_in, true, path + ": \"gold_in\"");
    }
  }
  const JsonValue& metrics = json_member(root, "metrics", path);
  if (!metrics.is_array() || metrics.array.empty()) throw Error(path + ": \"metrics\" must be a non-empty list");
  for (const JsonValue& m : metrics.array) {
    const bool mc = t.kind != TaskKind::kLastWord;
    if (!m.is_string() || !(m.string == "acc" || (mc && m.string == "acc_norm") || (!mc && m.string == "perplexity")))
      throw Error(str(path, ": \"metrics\": ", m.is_string() ? "'" + m.string + "'" : std::string("a non-string"),
                      " is not one of ", mc ? "acc, acc_norm" : "acc, perplexity", " for kind ", kind));
    t.metrics.push_back(m.string);
  }
  return t;
}

TaskConfig load_task(const std::string& path) { return parse_task(read_file(path, "task config"), path); }

// ---------------------------------------------------------------- items

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string l = text.substr(pos, nl - pos);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    lines.push_back(std::move(l));
    pos = nl + 1;
  }
  return lines;
}

TaskItem make_item(const TaskConfig& t, const JsonValue& item) {
  TaskItem out;
  switch (t.kind) {
    case TaskKind::kMultipleChoice: {
      const std::string ctx = apply_steps(t.context_steps, t.context->render(item));
      if (!t.choice_list.empty()) {
        bool list = false;
        std::vector<const JsonValue*> vals = resolve(item, t.choice_list, &list);
        if (!list) {
          if (!vals[0]->is_array()) throw ItemError{str("field '", t.choice_list, "' (choice_list) is not a list")};
          std::vector<const JsonValue*> elems;
          for (const JsonValue& e : vals[0]->array) elems.push_back(&e);
          vals = elems;
        }
        for (const JsonValue* v : vals) {
          if (!v->is_string()) throw ItemError{str("field '", t.choice_list, "' (choice_list) holds a non-string")};
          out.choices.push_back(apply_steps(t.choice_steps, v->string));
        }
      } else {
        for (const auto& c : t.choices) out.choices.push_back(apply_steps(t.choice_steps, c->render(item)));
      }
      if (out.choices.empty())
        throw ItemError{str("field '", t.choice_list, "' (choice_list) is an empty list: no choices")};
      for (const std::string& c : out.choices) out.requests.push_back({ctx, t.target_delimiter + c});
      break;
    }
    case TaskKind::kMultipleChoicePartial: {
      const std::string cont = apply_steps(t.choice_steps, t.continuation->render(item));
      for (const auto& c : t.contexts) {
        out.choices.push_back(apply_steps(t.context_steps, c->render(item)));
        out.requests.push_back({out.choices.back(), t.target_delimiter + cont});
      }
      break;
    }
    case TaskKind::kLastWord: {
      const std::string text = apply_steps(t.context_steps, t.text->render(item));
      const size_t sp = text.rfind(' ');
      if (sp == std::string::npos) throw ItemError{"the text (field of \"text\") has no space to split the last word at"};
      out.requests.push_back({text.substr(0, sp), " " + text.substr(sp + 1)});
      return out;
    }
  }
  // Gold.
  bool list = false;
  const JsonValue& g = *resolve(item, t.gold_field, &list)[0];
  std::string gt;
  if (!scalar_text(g, &gt))
    throw ItemError{str("field '", t.gold_field, "' (gold) is a ", json_type_name(g.type), ", not a label")};
  if (!t.gold_map.empty()) {
    for (const auto& [k, v] : t.gold_map)
      if (k == gt) out.gold = v;
    if (out.gold < 0) throw ItemError{str("field '", t.gold_field, "' (gold) value '", gt, "' is not a key of gold_map")};
  } else if (!t.gold_in.empty()) {
    const std::vector<const JsonValue*> labels = resolve(item, t.gold_in, &list);
    for (size_t i = 0; i < labels.size() && out.gold < 0; ++i) {
      std::string lt;
      if (scalar_text(*labels[i], &lt) && lt == gt) out.gold = int(i);
    }
    if (out.gold < 0)
      throw ItemError{str("field '", t.gold_field, "' (gold) value '", gt, "' is not among field '", t.gold_in, "'")};
  } else {
    if (gt.empty() || gt.size() > 9 || gt.find_first_not_of("0123456789") != std::string::npos)
      throw ItemError{str("field '", t.gold_field, "' (gold) value '", gt, "' is not an index")};
    out.gold = std::stoi(gt);
  }
  if (size_t(out.gold) >= out.choices.size())
    throw ItemError{str("field '", t.gold_field, "' (gold) index ", out.gold, " is out of range for ",
                        out.choices.size(), " choices")};
  return out;
}

}  // namespace

std::vector<TaskItem> task_items_from_text(const TaskConfig& task, const std::string& data_text,
                                           const std::string& data_name, const std::string& labels_text,
                                           const std::string& labels_name, size_t limit) {
  std::vector<std::string> lines = split_lines(data_text);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::vector<std::string> labels;
  if (!task.labels.empty()) {
    size_t bad = 0;
    if (!valid_utf8(labels_text, &bad)) throw Error(str(labels_name, ": invalid UTF-8 at byte ", bad));
    labels = split_lines(labels_text);
    while (!labels.empty() && labels.back().empty()) labels.pop_back();
    if (labels.size() != lines.size())
      throw Error(str(labels_name, ": ", labels.size(), " labels for ", lines.size(), " items of ", data_name));
  }
  const size_t n = limit > 0 && limit < lines.size() ? limit : lines.size();
  std::vector<TaskItem> items;
  items.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string where = str(data_name, ":", i + 1);
    if (lines[i].empty()) throw Error(where + ": empty line");
    JsonValue item = parse_json(lines[i], where);
    if (!item.is_object()) throw Error(where + ": an item is a JSON object");
    if (!labels.empty()) {
      if (item.find(task.labels_field))
        throw Error(str(where, ": field '", task.labels_field, "' exists already; the labels file would replace it"));
      JsonValue l;
      l.type = JsonValue::Type::String;
      l.string = labels[i];
      item.object.emplace_back(task.labels_field, std::move(l));
    }
    try {
      TaskItem it = make_item(task, item);
      it.index = i;
      it.line = i + 1;
      items.push_back(std::move(it));
    } catch (const ItemError& e) {
      throw Error(str(where, ": ", e.message, " (task ", task.path, ")"));
    }
  }
  return items;
}

std::vector<TaskItem> load_task_items(const TaskConfig& task, size_t limit) {
  const std::string data = read_file(task.data, "task data");
  const std::string labels = task.labels.empty() ? "" : read_file(task.labels, "task labels");
  return task_items_from_text(task, data, display_path(task.data), labels, display_path(task.labels), limit);
}

}  // namespace sqsim
