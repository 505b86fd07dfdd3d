#include "sim/tokenizer/spm_tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <queue>

#include "base/error.h"
#include "base/str.h"
#include "base/utf8.h"

namespace sqsim {

namespace {

const char kSpaceMark[] = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

std::string escape_spaces(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    if (c == ' ') out += kSpaceMark;
    else out += c;
  }
  return out;
}

}  // namespace

SpmTokenizer::SpmTokenizer(std::vector<std::string> tokens, std::vector<float> scores, std::vector<int32_t> types,
                           bool add_space_prefix, int32_t unknown_id)
    : tokens_(std::move(tokens)), scores_(std::move(scores)), types_(std::move(types)),
      add_space_prefix_(add_space_prefix), unknown_id_(unknown_id) {
  const size_t n = tokens_.size();
  if (scores_.size() != n) throw Error(str("SPM tokenizer: ", scores_.size(), " scores for ", n, " tokens"));
  if (types_.empty()) types_.assign(n, kNormal);
  if (types_.size() != n) throw Error(str("SPM tokenizer: ", types_.size(), " token types for ", n, " tokens"));
  if (unknown_id_ < -1 || unknown_id_ >= int64_t(n))
    throw Error(str("SPM tokenizer: unknown token id ", unknown_id_, " is outside the vocabulary of ", n));
  std::fill(std::begin(byte_token_), std::end(byte_token_), -1);
  ids_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& t = tokens_[i];
    const int32_t id = int32_t(i);
    if (t.empty()) throw Error(str("SPM tokenizer: token ", id, " is empty"));
    if (!std::isfinite(scores_[i])) throw Error(str("SPM tokenizer: token ", id, " has a non-finite score"));
    if (types_[i] < kNormal || types_[i] > kByte)
      throw Error(str("SPM tokenizer: token ", id, " has type ", types_[i], " (expected 1..6)"));
    if (!ids_.emplace(t, id).second) throw Error("SPM tokenizer: duplicate token '" + t + "'");
    if (types_[i] == kByte) {
      unsigned v = 0;
      char tail = 0;
      if (t.size() != 6 || std::sscanf(t.c_str(), "<0x%2X>%c", &v, &tail) != 1)
        throw Error(str("SPM tokenizer: byte token ", id, " is '", t, "', expected <0xXX>"));
      byte_token_[v] = id;
    }
    if (types_[i] == kControl || types_[i] == kUserDefined) literals_.emplace_back(t, id);
  }
  std::stable_sort(literals_.begin(), literals_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& lit : literals_) literals_by_byte_[static_cast<unsigned char>(lit.first[0])].push_back(lit);
}

const std::string& SpmTokenizer::token(int32_t id) const {
  if (id < 0 || size_t(id) >= tokens_.size())
    throw Error(str("token id ", id, " is outside the vocabulary of ", tokens_.size()));
  return tokens_[size_t(id)];
}

int32_t SpmTokenizer::find(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

void SpmTokenizer::push_bytes(const std::string& text, size_t start, size_t len, std::vector<int32_t>& out) const {
  for (size_t k = start; k < start + len; ++k) {
    const unsigned char b = static_cast<unsigned char>(text[k]);
    int32_t id = byte_token_[b];
    if (id < 0) id = unknown_id_;
    if (id < 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", unsigned(b));
      throw Error(str("SPM tokenizer: byte ", hex, " has no <0xXX> token and there is no unknown token"));
    }
    out.push_back(id);
  }
}

// One stretch of text between literal tokens, spaces already escaped.
// Every UTF-8 character starts as a symbol; the adjacent pair whose
// concatenation is the token of highest score (ties: leftmost) merges, and the
// pairs around it are re-examined, until no pair is a token. A merged symbol
// is a token by construction; a lone character that is not a token becomes
// byte tokens.
void SpmTokenizer::encode_piece(const std::string& text, std::vector<int32_t>& out) const {
  struct Symbol {
    int prev, next;
    size_t start, len;  // len 0: merged into its left neighbour
  };
  std::vector<Symbol> sym;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = decode_utf8(text, pos);
    if (len == 0) len = 1;  // a malformed byte stands alone
    sym.push_back({int(sym.size()) - 1, int(sym.size()) + 1, pos, len});
    pos += len;
  }
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Pair {
    int left, right;
    float score;
    size_t len;  // both symbols' length when queued: a stale entry no longer matches
  };
  const auto lower = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(lower)> queue(lower);
  const auto consider = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const size_t len = sym[l].len + sym[r].len;
    const auto it = ids_.find(text.substr(sym[l].start, len));
    if (it == ids_.end()) return;
    queue.push({l, r, scores_[size_t(it->second)], len});
  };
  for (size_t i = 1; i < sym.size(); ++i) consider(int(i) - 1, int(i));
  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& l = sym[p.left];
    Symbol& r = sym[p.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != p.len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = p.left;
    consider(l.prev, p.left);
    consider(p.left, l.next);
  }
  for (int i = 0; i >= 0; i = sym[i].next) {
    const auto it = ids_.find(text.substr(sym[i].start, sym[i].len));
    if (it != ids_.end()) out.push_back(it->second);
    else push_bytes(text, sym[i].start, sym[i].len, out);
  }
}

std::vector<int32_t> SpmTokenizer::encode(const std::string& text) const {
  std::vector<int32_t> out;
  bool after_literal = true;  // the start of the text counts as one for the space prefix
  size_t pos = 0;
  const auto plain = [&](size_t from, size_t to) {
    if (from == to) return;
    std::string piece = (add_space_prefix_ && after_literal ? " " : "") + text.substr(from, to - from);
    encode_piece(escape_spaces(piece), out);
    after_literal = false;
  };
  // Literal tokens first: the leftmost match, longest at that position.
  size_t from = 0;
  while (pos < text.size()) {
    int32_t id = -1;
    size_t len = 0;
    for (const auto& [s, sid] : literals_by_byte_[static_cast<unsigned char>(text[pos])]) {
      if (text.compare(pos, s.size(), s) == 0) {  // longest first: the first match wins
        id = sid;
        len = s.size();
        break;
      }
    }
    if (id < 0) {
      ++pos;
      continue;
    }
    plain(from, pos);
    out.push_back(id);
    after_literal = true;
    pos += len;
    from = pos;
  }
  pos = from;
  plain(pos, text.size());
  return out;
}

std::string SpmTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (const int32_t id : ids) {
    const std::string& t = token(id);
    if (types_[size_t(id)] == kByte) {
      out += char(std::stoi(t.substr(3, 2), nullptr, 16));
      continue;
    }
    for (size_t k = 0; k < t.size();) {
      if (t.compare(k, 3, kSpaceMark) == 0) {
        out += ' ';
        k += 3;
      } else {
        out += t[k++];
      }
    }
  }
  if (add_space_prefix_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

}  // namespace sqsim
