#pragma once
// The little-endian field encoding of sqsim's own binary caches (calibration
// statistics, saved weight searches): u64 counts and lengths, length-prefixed
// strings, raw arrays of plain numbers. The writer appends to a string; the
// reader checks every field against what is left, so a truncated or damaged
// file fails with one line naming the file, the byte and the field.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sqsim {

void put_u64(std::string& out, uint64_t v);
// u64 length, then the bytes.
void put_string(std::string& out, const std::string& s);
// n values as they are in memory (x86-64 and every target sqsim builds for are
// little-endian), with no count: the reader must know n.
template <class T>
void put_array(std::string& out, const T* p, size_t n) {
  out.append(reinterpret_cast<const char*>(p), n * sizeof(T));
}
// u64 count, then the values.
template <class T>
void put_counted(std::string& out, const T* p, size_t n) {
  put_u64(out, n);
  put_array(out, p, n);
}

class ByteReader {
 public:
  // Reads `bytes` (kept by reference) from byte `start`. Errors read
  // "<path>: <kind> damaged or truncated at byte B (expected <field>); <remedy>".
  ByteReader(const std::string& bytes, size_t start, std::string path, std::string kind, std::string remedy);

  uint64_t u64(const char* what);
  std::string str(const char* what);
  // n values with no count before them.
  template <class T>
  void array(T* p, uint64_t n, const char* what) {
    if (n > (b_.size() - pos_) / sizeof(T)) fail(what);
    if (n) std::memcpy(p, b_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
  }
  // A u64 count, then the values.
  template <class T>
  std::vector<T> counted(const char* what) {
    const uint64_t n = u64(what);
    if (n > (b_.size() - pos_) / sizeof(T)) fail(what);
    std::vector<T> v(n);
    array(v.data(), n, what);
    return v;
  }
  size_t size() const { return b_.size(); }
  bool at_end() const { return pos_ == b_.size(); }
  [[noreturn]] void fail(const char* what) const;

 private:
  const std::string& b_;
  size_t pos_;
  std::string path_, kind_, remedy_;
};

}  // namespace sqsim
