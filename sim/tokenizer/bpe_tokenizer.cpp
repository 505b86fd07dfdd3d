#include "sim/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/utf8.h"
#include "sim/tokenizer/unicode_classes.h"

namespace sqsim {

namespace {

// GPT-2's byte-to-unicode table: printable bytes (33..126, 161..172, 174..255)
// stand for themselves; the other 68 bytes take code points 256, 257, ... in
// byte order, so that every token is printable text.
struct ByteTable {
  uint32_t cp[256];
  int16_t byte_of[324];  // inverse, -1 where none
  std::string utf8[256];
  ByteTable();
};

ByteTable::ByteTable() {
  std::fill(std::begin(byte_of), std::end(byte_of), int16_t(-1));
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    cp[b] = printable ? uint32_t(b) : next++;
    byte_of[cp[b]] = int16_t(b);
    append_utf8(utf8[b], cp[b]);
  }
}

const ByteTable& byte_table() {
  static const ByteTable table;
  return table;
}

// Decodes one UTF-8 sequence at s[pos]; sets len. A malformed sequence yields
// one byte and a code point above the Unicode range (classified as "other").
uint32_t next_code_point(const std::string& s, size_t pos, size_t& len) {
  uint32_t cp = 0;
  len = decode_utf8(s, pos, &cp);
  if (len != 0) return cp;
  len = 1;
  return 0x110000u + static_cast<unsigned char>(s[pos]);
}

// Character classes of the GPT-2 pre-tokenizer regex: \p{L}, \p{N}, \s, other.
enum class Cls : uint8_t { kLetter, kNumber, kSpace, kOther };

using unicode::CodeRange;

bool in_ranges(uint32_t cp, const CodeRange* r, size_t n) {
  // Ranges are sorted; binary search for the last range starting at or below cp.
  size_t lo = 0, hi = n;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (r[mid].lo <= cp) lo = mid + 1; else hi = mid;
  }
  return lo > 0 && cp <= r[lo - 1].hi;
}

template <size_t N>
bool in(uint32_t cp, const CodeRange (&r)[N]) {
  return in_ranges(cp, r, N);
}

// Unicode White_Space (exact).
const CodeRange kSpace[] = {{0x09, 0x0D}, {0x20, 0x20}, {0x85, 0x85}, {0xA0, 0xA0}, {0x1680, 0x1680},
                            {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}};

// \p{L} and \p{N} are the general categories L* and N*, from the tables
// generated out of Python's unicodedata (sim/tokenizer/unicode_classes.h).
Cls classify(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return Cls::kLetter;
    if (cp >= '0' && cp <= '9') return Cls::kNumber;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return Cls::kSpace;
    return Cls::kOther;
  }
  if (in(cp, unicode::kLetterRanges)) return Cls::kLetter;
  if (in(cp, unicode::kNumberRanges)) return Cls::kNumber;
  if (in(cp, kSpace)) return Cls::kSpace;
  return Cls::kOther;
}

struct Char {
  size_t pos;  // byte offset
  uint32_t cp;
  Cls cls;
};

// The GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// applied to chars[a, b) (a piece ends where the text or a digit split ends),
// written out by hand. end_byte is the byte offset of chars[b].
void split_gpt2(const std::string& text, const std::vector<Char>& chars, size_t a, size_t b, size_t end_byte,
                std::vector<std::string>& out) {
  auto byte_at = [&](size_t i) { return i < b ? chars[i].pos : end_byte; };
  auto emit = [&](size_t i, size_t j) { out.push_back(text.substr(byte_at(i), byte_at(j) - byte_at(i))); };
  size_t i = a;
  while (i < b) {
    const uint32_t c = chars[i].cp;
    if (c == '\'' && i + 1 < b) {
      const uint32_t n1 = chars[i + 1].cp;
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        emit(i, i + 2);
        i += 2;
        continue;
      }
      if (i + 2 < b) {
        const uint32_t n2 = chars[i + 2].cp;
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          emit(i, i + 3);
          i += 3;
          continue;
        }
      }
    }
    size_t j = i;
    if (c == ' ' && i + 1 < b && chars[i + 1].cls != Cls::kSpace) j = i + 1;  // optional leading space
    const Cls k = chars[j].cls;
    if (k != Cls::kSpace) {
      size_t e = j + 1;
      while (e < b && chars[e].cls == k) ++e;
      emit(i, e);
      i = e;
      continue;
    }
    // Whitespace run [i, e): all of it before the end of the piece; otherwise
    // all but its last character (which may then lead the next word), or a
    // single whitespace character.
    size_t e = i + 1;
    while (e < b && chars[e].cls == Cls::kSpace) ++e;
    const size_t stop = (e == b || e - i == 1) ? e : e - 1;
    emit(i, stop);
    i = stop;
  }
}

std::string unescape(const std::string& s, const std::string& where) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) throw Error(where + ": dangling backslash");
    switch (s[i]) {
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      default: throw Error(where + ": unknown escape \\" + std::string(1, s[i]));
    }
  }
  return out;
}

// Parses "key=value" from a header line; throws when missing.
std::string header_value(const std::string& header, const std::string& key, const std::string& path) {
  std::istringstream in(header);
  std::string word;
  while (in >> word) {
    if (word.compare(0, key.size() + 1, key + "=") == 0) return word.substr(key.size() + 1);
  }
  throw Error(path + ": header lacks " + key + "= (expected e.g. '" + header + " " + key + "=...')");
}

size_t parse_count(const std::string& v, const std::string& path) {
  try {
    size_t used = 0;
    const unsigned long long n = std::stoull(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return size_t(n);
  } catch (const std::exception&) {
    throw Error(path + ": count=" + v + " is not a number");
  }
}

uint64_t file_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const std::streamoff size = in ? std::streamoff(in.tellg()) : -1;
  if (size < 0) throw Error(path + ": cannot determine the file size");
  return uint64_t(size);
}

}  // namespace

BpeTokenizer::BpeTokenizer(std::vector<std::string> tokens, const std::vector<std::string>& merges,
                           const std::string& pre, const std::vector<std::string>& special_tokens)
    : tokens_(std::move(tokens)), pre_(pre) {
  if (pre_ == "smollm") {
    split_digits_ = true;
  } else if (pre_ != "gpt2") {
    throw Error("bpe tokenizer: unsupported pre-tokenizer '" + pre_ + "' (expected gpt2 or smollm)");
  }
  if (tokens_.empty()) throw Error("bpe tokenizer: empty vocabulary");
  if (tokens_.size() > size_t(INT32_MAX)) throw Error("bpe tokenizer: vocabulary too large");
  ids_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].empty()) throw Error("bpe tokenizer: token " + std::to_string(i) + " is empty");
    auto [it, inserted] = ids_.emplace(tokens_[i], int32_t(i));
    if (!inserted) {
      throw Error("bpe tokenizer: duplicate token '" + tokens_[i] + "' (ids " + std::to_string(it->second) + " and " +
                  std::to_string(i) + ")");
    }
  }
  const ByteTable& bt = byte_table();
  for (int b = 0; b < 256; ++b) byte_token_[b] = find(bt.utf8[b]);
  merges_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == m.size() || m.find(' ', sp + 1) != std::string::npos) {
      throw Error("bpe tokenizer: merge " + std::to_string(r) + " '" + m + "' is not 'left right'");
    }
    const std::string left = m.substr(0, sp), right = m.substr(sp + 1);
    const int32_t a = find(left), b = find(right), c = find(left + right);
    if (a < 0 || b < 0 || c < 0) {
      throw Error("bpe tokenizer: merge " + std::to_string(r) + " '" + m + "' references unknown token '" +
                  (a < 0 ? left : b < 0 ? right : left + right) + "'");
    }
    merges_.emplace(pair_key(a, b), Merge{uint32_t(r), c});  // a repeated pair keeps its first rank
  }
  special_.assign(tokens_.size(), false);
  for (const std::string& s : special_tokens) {
    const int32_t id = find(s);
    if (id < 0) throw Error("bpe tokenizer: special token '" + s + "' is not in the vocabulary");
    if (!special_[id]) specials_.emplace_back(s, id);
    special_[id] = true;
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
}

BpeTokenizer BpeTokenizer::from_files(const std::string& vocab_path, const std::string& merges_path) {
  std::ifstream vin(vocab_path, std::ios::binary);
  if (!vin) throw Error(vocab_path + ": cannot open the file");
  std::string line;
  if (!std::getline(vin, line) || line.rfind("sqsim-bpe-vocab 1", 0) != 0) {
    throw Error(vocab_path + ": not a vocab file (expected header 'sqsim-bpe-vocab 1 pre=NAME count=N')");
  }
  const std::string pre = header_value(line, "pre", vocab_path);
  const size_t count = parse_count(header_value(line, "count", vocab_path), vocab_path);
  // The count is a size field: check it against the file before reserving
  // (every token line takes at least 2 bytes, "TYPE<TAB>"). Found by fuzzing
  // (tests/fuzz/fuzz_tokenizer.cpp): count=2^60 threw std::length_error.
  const uint64_t vocab_bytes = file_size(vocab_path);
  if (count > vocab_bytes / 2) {
    throw Error(vocab_path + ": header count=" + std::to_string(count) + " tokens cannot fit in the " +
                std::to_string(vocab_bytes) + "-byte file");
  }
  std::vector<std::string> tokens, specials;
  tokens.reserve(count);
  size_t lineno = 1;
  while (std::getline(vin, line)) {
    ++lineno;
    const std::string where = vocab_path + ":" + std::to_string(lineno);
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0) throw Error(where + ": expected 'TYPE<TAB>token'");
    const std::string type = line.substr(0, tab);
    if (type.find_first_not_of("0123456789") != std::string::npos) throw Error(where + ": token type '" + type + "' is not a number");
    tokens.push_back(unescape(line.substr(tab + 1), where));
    if (type == "3" || type == "4") specials.push_back(tokens.back());  // control / user-defined
  }
  if (tokens.size() != count) {
    throw Error(vocab_path + ": " + std::to_string(tokens.size()) + " tokens (header says count=" + std::to_string(count) + ")");
  }
  std::ifstream min(merges_path, std::ios::binary);
  if (!min) throw Error(merges_path + ": cannot open the file");
  if (!std::getline(min, line) || line.rfind("sqsim-bpe-merges 1", 0) != 0) {
    throw Error(merges_path + ": not a merges file (expected header 'sqsim-bpe-merges 1 count=M')");
  }
  const size_t mcount = parse_count(header_value(line, "count", merges_path), merges_path);
  const uint64_t merges_bytes = file_size(merges_path);
  if (mcount > merges_bytes) {  // every merge line takes at least its newline
    throw Error(merges_path + ": header count=" + std::to_string(mcount) + " merges cannot fit in the " +
                std::to_string(merges_bytes) + "-byte file");
  }
  std::vector<std::string> merges;
  merges.reserve(mcount);
  while (std::getline(min, line)) merges.push_back(line);
  if (merges.size() != mcount) {
    throw Error(merges_path + ": " + std::to_string(merges.size()) + " merges (header says count=" + std::to_string(mcount) + ")");
  }
  return BpeTokenizer(std::move(tokens), merges, pre, specials);
}

const std::string& BpeTokenizer::token(int32_t id) const {
  if (id < 0 || size_t(id) >= tokens_.size()) {
    throw Error("bpe tokenizer: token id " + std::to_string(id) + " outside the vocabulary (size " +
                std::to_string(tokens_.size()) + ")");
  }
  return tokens_[id];
}

int32_t BpeTokenizer::find(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<std::string> BpeTokenizer::pre_tokenize(const std::string& text) const {
  std::vector<Char> chars;
  chars.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 1;
    const uint32_t cp = next_code_point(text, pos, len);
    chars.push_back(Char{pos, cp, classify(cp)});
    pos += len;
  }
  std::vector<std::string> out;
  if (!split_digits_) {
    split_gpt2(text, chars, 0, chars.size(), text.size(), out);
    return out;
  }
  // smollm: every numeric character is a piece of its own (HF Digits with
  // individual_digits), then the GPT-2 regex runs on the pieces between.
  size_t a = 0;
  for (size_t i = 0; i <= chars.size(); ++i) {
    if (i < chars.size() && chars[i].cls != Cls::kNumber) continue;
    if (i > a) split_gpt2(text, chars, a, i, i < chars.size() ? chars[i].pos : text.size(), out);
    if (i < chars.size()) {
      const size_t end = i + 1 < chars.size() ? chars[i + 1].pos : text.size();
      out.push_back(text.substr(chars[i].pos, end - chars[i].pos));
    }
    a = i + 1;
  }
  return out;
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<int32_t>& out) const {
  std::vector<int32_t> sym;
  sym.reserve(word.size());
  for (unsigned char b : word) {
    const int32_t id = byte_token_[b];
    if (id < 0) {
      static const char* hex = "0123456789ABCDEF";
      throw Error(std::string("bpe tokenizer: byte 0x") + hex[b >> 4] + hex[b & 15] +
                  " has no token in the vocabulary (its byte-level form is missing)");
    }
    sym.push_back(id);
  }
  // Repeatedly merge the pair of lowest rank, every occurrence left to right.
  while (sym.size() > 1) {
    uint32_t best = UINT32_MAX;
    int32_t left = -1, right = -1, result = -1;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = merges_.find(pair_key(sym[i], sym[i + 1]));
      if (it != merges_.end() && it->second.rank < best) {
        best = it->second.rank;
        left = sym[i];
        right = sym[i + 1];
        result = it->second.result;
      }
    }
    if (result < 0) break;
    size_t w = 0;
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] == left && sym[i + 1] == right) {
        sym[w++] = result;
        ++i;
      } else {
        sym[w++] = sym[i];
      }
    }
    sym.resize(w);
  }
  out.insert(out.end(), sym.begin(), sym.end());
}

void BpeTokenizer::encode_plain(const std::string& text, std::vector<int32_t>& out,
                                std::unordered_map<std::string, std::vector<int32_t>>& cache) const {
  for (const std::string& word : pre_tokenize(text)) {
    auto it = cache.find(word);
    if (it == cache.end()) {
      std::vector<int32_t> ids;
      encode_word(word, ids);
      it = cache.emplace(word, std::move(ids)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
}

std::vector<int32_t> BpeTokenizer::encode(const std::string& text) const {
  std::vector<int32_t> out;
  std::unordered_map<std::string, std::vector<int32_t>> cache;
  // Special tokens: leftmost match, the longest where several start there.
  size_t start = 0, pos = 0;
  while (pos < text.size() && !specials_.empty()) {
    bool matched = false;
    for (const auto& [s, id] : specials_) {
      if (text.compare(pos, s.size(), s) == 0) {
        encode_plain(text.substr(start, pos - start), out, cache);
        out.push_back(id);
        pos += s.size();
        start = pos;
        matched = true;
        break;
      }
    }
    if (!matched) ++pos;
  }
  encode_plain(text.substr(start), out, cache);
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  const ByteTable& bt = byte_table();
  std::string out;
  for (int32_t id : ids) {
    const std::string& t = token(id);
    if (special_[id]) {
      out += t;
      continue;
    }
    for (size_t pos = 0; pos < t.size();) {
      size_t len = 1;
      const uint32_t cp = next_code_point(t, pos, len);
      if (cp < 324 && bt.byte_of[cp] >= 0) {
        out += char(bt.byte_of[cp]);
      } else {
        out.append(t, pos, len);  // not a byte-level character: kept as it is
      }
      pos += len;
    }
  }
  return out;
}

}  // namespace sqsim
