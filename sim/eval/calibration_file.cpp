#include "sim/eval/calibration_file.h"

#include <cstdint>
#include <fstream>

#include "base/binary_io.h"
#include "base/error.h"
#include "base/io.h"

namespace sqsim {

namespace {

const char kMagic[] = "sqsim-calibration 1\n";

}  // namespace

std::string calibration_file_bytes(const std::string& key, const CalibrationStats& stats) {
  std::string out(kMagic);
  put_string(out, key);
  put_u64(out, stats.size());
  for (const auto& [name, s] : stats) {
    put_string(out, name);
    put_u64(out, static_cast<uint64_t>(s.tokens));
    put_u64(out, static_cast<uint64_t>(s.absmax.size()));
    put_array(out, s.absmax.data(), s.absmax.size());
    put_array(out, s.min.data(), s.min.size());
    put_array(out, s.max.data(), s.max.size());
    put_u64(out, static_cast<uint64_t>(s.sample.rows()));
    put_u64(out, static_cast<uint64_t>(s.sample.cols()));
    put_array(out, s.sample.data(), static_cast<size_t>(s.sample.size()));
  }
  return out;
}

bool read_calibration_file(const std::string& path, const std::string& key, CalibrationStats* out) {
  if (!std::ifstream(path, std::ios::binary)) return false;  // no cache yet
  return parse_calibration_bytes(read_file(path, "calibration cache"), path, key, out);
}

bool parse_calibration_bytes(const std::string& bytes, const std::string& path, const std::string& key,
                             CalibrationStats* out) {
  if (bytes.compare(0, sizeof kMagic - 1, kMagic) != 0) {
    throw Error(path + ": not a calibration cache (expected the line 'sqsim-calibration 1'); delete it to recalibrate");
  }
  ByteReader r(bytes, sizeof kMagic - 1, path, "calibration cache", "delete it to recalibrate");
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
    r.array(s.absmax.data(), c, "absmax values");
    r.array(s.min.data(), c, "min values");
    r.array(s.max.data(), c, "max values");
    const uint64_t rows = r.u64("sample rows"), cols = r.u64("sample columns");
    if (rows > bytes.size() || cols > bytes.size() || (cols && rows > bytes.size() / cols)) r.fail("a sample shape");
    s.sample.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    r.array(s.sample.data(), rows * cols, "sample values");
    stats.emplace(name, std::move(s));
  }
  if (!r.at_end()) r.fail("the end of the file");
  *out = std::move(stats);
  return true;
}

}  // namespace sqsim
