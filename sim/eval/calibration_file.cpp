#include "sim/eval/calibration_file.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>

#include "base/error.h"
#include "base/io.h"

namespace sqsim {

namespace {

const char kMagic[] = "sqsim-calibration 1\n";

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_string(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}
void put_floats(std::string& out, const float* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, 4);
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((bits >> (8 * b)) & 0xFF));
  }
}

// Reads the fields in order; every read checks what is left.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path) : b_(bytes), path_(path) {}
  uint64_t u64(const char* what) {
    need(8, what);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(b_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = u64(what);
    need(n, what);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void floats(float* p, uint64_t n, const char* what) {
    if (n > (b_.size() - pos_) / 4) fail(what);
    for (uint64_t i = 0; i < n; ++i) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b) bits |= uint32_t(static_cast<unsigned char>(b_[pos_ + 4 * i + b])) << (8 * b);
      std::memcpy(p + i, &bits, 4);
    }
    pos_ += 4 * n;
  }
  bool at_end() const { return pos_ == b_.size(); }
  [[noreturn]] void fail(const char* what) const {
    throw Error(path_ + ": calibration cache damaged or truncated at byte " + std::to_string(pos_) + " (expected " +
                what + "); delete it to recalibrate");
  }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > b_.size() - pos_) fail(what);
  }
  const std::string& b_;
  const std::string& path_;
  size_t pos_ = sizeof kMagic - 1;
};

}  // namespace

std::string calibration_file_bytes(const std::string& key, const CalibrationStats& stats) {
  std::string out(kMagic);
  put_string(out, key);
  put_u64(out, stats.size());
  for (const auto& [name, s] : stats) {
    put_string(out, name);
    put_u64(out, static_cast<uint64_t>(s.tokens));
    put_u64(out, static_cast<uint64_t>(s.absmax.size()));
    put_floats(out, s.absmax.data(), s.absmax.size());
    put_floats(out, s.min.data(), s.min.size());
    put_floats(out, s.max.data(), s.max.size());
    put_u64(out, static_cast<uint64_t>(s.sample.rows()));
    put_u64(out, static_cast<uint64_t>(s.sample.cols()));
    put_floats(out, s.sample.data(), static_cast<size_t>(s.sample.size()));
  }
  return out;
}

bool read_calibration_file(const std::string& path, const std::string& key, CalibrationStats* out) {
  if (!std::ifstream(path, std::ios::binary)) return false;  // no cache yet
  const std::string bytes = read_file(path, "calibration cache");
  if (bytes.compare(0, sizeof kMagic - 1, kMagic) != 0) {
    throw Error(path + ": not a calibration cache (expected the line 'sqsim-calibration 1'); delete it to recalibrate");
  }
  Reader r(bytes, path);
  if (r.str("the key") != key) return false;
  const uint64_t layers = r.u64("the layer count");
  CalibrationStats stats;
  for (uint64_t l = 0; l < layers; ++l) {
    const std::string name = r.str("a layer name");
    LayerInputStats s;
    s.tokens = static_cast<long>(r.u64("a token count"));
    const uint64_t c = r.u64("a channel count");
    if (c > bytes.size()) r.fail("a channel count");
    s.absmax.resize(static_cast<Eigen::Index>(c));
    s.min.resize(static_cast<Eigen::Index>(c));
    s.max.resize(static_cast<Eigen::Index>(c));
    r.floats(s.absmax.data(), c, "absmax values");
    r.floats(s.min.data(), c, "min values");
    r.floats(s.max.data(), c, "max values");
    const uint64_t rows = r.u64("sample rows"), cols = r.u64("sample columns");
    if (rows > bytes.size() || cols > bytes.size() || (cols && rows > bytes.size() / cols)) r.fail("a sample shape");
    s.sample.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    r.floats(s.sample.data(), rows * cols, "sample values");
    stats.emplace(name, std::move(s));
  }
  if (!r.at_end()) r.fail("the end of the file");
  *out = std::move(stats);
  return true;
}

}  // namespace sqsim
