#include "base/binary_io.h"

#include <utility>

#include "base/error.h"

namespace sqsim {

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_string(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

ByteReader::ByteReader(const std::string& bytes, size_t start, std::string path, std::string kind,
                       std::string remedy)
    : b_(bytes), pos_(start), path_(std::move(path)), kind_(std::move(kind)), remedy_(std::move(remedy)) {
  if (pos_ > b_.size()) fail("the header");
}

uint64_t ByteReader::u64(const char* what) {
  if (8 > b_.size() - pos_) fail(what);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(b_[pos_ + i])) << (8 * i);
  pos_ += 8;
  return v;
}

std::string ByteReader::str(const char* what) {
  const uint64_t n = u64(what);
  if (n > b_.size() - pos_) fail(what);
  std::string s = b_.substr(pos_, n);
  pos_ += n;
  return s;
}

void ByteReader::fail(const char* what) const {
  throw Error(path_ + ": " + kind_ + " damaged or truncated at byte " + std::to_string(pos_) + " (expected " + what +
              "); " + remedy_);
}

}  // namespace sqsim
