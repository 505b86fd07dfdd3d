#include "experiments/eval_journal.h"

#include "base/error.h"
#include "experiments/format.h"
#include "experiments/journal.h"

namespace sqsim::cli {

std::string eval_item_key(const std::string& task, size_t position) { return task + " " + std::to_string(position); }

// index, gold, n, then (loglik, greedy, tokens) per request, then the choices' lengths.
std::vector<std::string> eval_item_fields(const ItemResult& r) {
  std::vector<std::string> f = {std::to_string(r.index), std::to_string(r.gold), std::to_string(r.loglik.size())};
  for (size_t i = 0; i < r.loglik.size(); ++i) {
    f.push_back(exact(r.loglik[i]));
    f.push_back(r.greedy[i] ? "1" : "0");
    f.push_back(std::to_string(r.tokens[i]));
  }
  f.push_back(std::to_string(r.choice_chars.size()));
  for (size_t c : r.choice_chars) f.push_back(std::to_string(c));
  return f;
}

ItemResult eval_item_from_fields(const std::vector<std::string>& f, const std::string& where) {
  const auto number = [&](size_t i) {
    if (i >= f.size()) throw Error(where + ": a truncated item result");
    return parse_journal_number(f[i], where);
  };
  ItemResult r;
  r.index = size_t(number(0));
  r.gold = int(number(1));
  const size_t n = size_t(number(2));
  size_t at = 3;
  for (size_t i = 0; i < n; ++i, at += 3) {
    r.loglik.push_back(number(at));
    r.greedy.push_back(number(at + 1) != 0);
    r.tokens.push_back(size_t(number(at + 2)));
  }
  const size_t chars = size_t(number(at++));
  for (size_t i = 0; i < chars; ++i) r.choice_chars.push_back(size_t(number(at++)));
  return r;
}

}  // namespace sqsim::cli
