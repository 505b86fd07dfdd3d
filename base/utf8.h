#pragma once
// UTF-8 as RFC 3629 defines it: one code point to bytes, and one well-formed
// sequence (no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF)
// back to its code point. Used by the JSON reader and the tokenizer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sqsim {

// Appends code point cp (at most 0x10FFFF) as 1 to 4 bytes.
inline void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
}

// Length (1 to 4) of the well-formed UTF-8 sequence starting at s[pos]
// (pos < s.size()), with its code point in *cp when cp is given; 0 when the
// bytes there are not one.
inline size_t decode_utf8(std::string_view s, size_t pos, uint32_t* cp = nullptr) {
  const auto b = [&](size_t i) { return uint32_t(static_cast<unsigned char>(s[pos + i])); };
  const size_t left = s.size() - pos;
  const auto cont = [&](size_t i) { return i < left && (b(i) & 0xC0) == 0x80; };
  const uint32_t c = b(0);
  uint32_t v = 0;
  size_t n = 0;
  if (c < 0x80) {
    v = c, n = 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    if (!cont(1)) return 0;
    v = ((c & 0x1F) << 6) | (b(1) & 0x3F), n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // UTF-16 surrogate
    v = ((c & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F), n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    v = ((c & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F), n = 4;
  } else {
    return 0;
  }
  if (cp) *cp = v;
  return n;
}

}  // namespace sqsim
