// The calibration cache (sim/eval/calibration_file.h): exact round trip, another
// key is not used, damaged files are refused with the file's name.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "base/error.h"
#include "sim/eval/calibration_file.h"

namespace sqsim {
namespace {

CalibrationStats example_stats() {
  CalibrationStats stats;
  LayerInputStats a;
  a.tokens = 1234;
  a.absmax = VectorF::Random(5).cwiseAbs();
  a.absmax[1] = std::numeric_limits<float>::denorm_min();
  a.min = -a.absmax;
  a.min[2] = -0.0f;
  a.max = a.absmax;
  a.sample = MatrixF::Random(3, 5);
  stats["model.layers.0.self_attn.q_proj"] = a;
  LayerInputStats b;  // no sample rows
  b.tokens = 7;
  b.absmax = VectorF::Constant(2, 3.5f);
  b.min = VectorF::Constant(2, -1.0f);
  b.max = VectorF::Constant(2, 3.5f);
  stats["model.layers.0.mlp.down_proj"] = b;
  return stats;
}

// n == 0 (an empty sample) passes null pointers, which memcmp may not get.
bool same_bits(const float* a, const float* b, long n) { return n == 0 || std::memcmp(a, b, sizeof(float) * n) == 0; }

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string("sqsim_calib_") + name)).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(CalibrationFile, RoundTripIsBitExact) {
  const CalibrationStats stats = example_stats();
  const std::string path = temp_path("roundtrip.bin");
  write_bytes(path, calibration_file_bytes("key 1", stats));
  CalibrationStats back;
  ASSERT_TRUE(read_calibration_file(path, "key 1", &back));
  ASSERT_EQ(back.size(), stats.size());
  for (const auto& [name, s] : stats) {
    const LayerInputStats& t = back.at(name);
    EXPECT_EQ(t.tokens, s.tokens);
    ASSERT_EQ(t.absmax.size(), s.absmax.size());
    EXPECT_TRUE(same_bits(t.absmax.data(), s.absmax.data(), s.absmax.size())) << name;
    EXPECT_TRUE(same_bits(t.min.data(), s.min.data(), s.min.size())) << name;
    EXPECT_TRUE(same_bits(t.max.data(), s.max.data(), s.max.size())) << name;
    ASSERT_EQ(t.sample.rows(), s.sample.rows());
    ASSERT_EQ(t.sample.cols(), s.sample.cols());
    EXPECT_TRUE(same_bits(t.sample.data(), s.sample.data(), s.sample.size())) << name;
  }
  std::remove(path.c_str());
}

TEST(CalibrationFile, OtherKeyOrMissingFileIsNotUsed) {
  const std::string path = temp_path("key.bin");
  write_bytes(path, calibration_file_bytes("model A", example_stats()));
  CalibrationStats back;
  EXPECT_FALSE(read_calibration_file(path, "model B", &back));
  EXPECT_TRUE(back.empty());
  std::remove(path.c_str());
  EXPECT_FALSE(read_calibration_file(path, "model A", &back));
}

TEST(CalibrationFile, TruncatedOrForeignFilesAreRefusedNamingTheFile) {
  const std::string bytes = calibration_file_bytes("k", example_stats());
  const std::string path = temp_path("damaged.bin");
  CalibrationStats back;
  for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t(30)}) {
    write_bytes(path, bytes.substr(0, cut));
    try {
      read_calibration_file(path, "k", &back);
      ADD_FAILURE() << "a file cut at " << cut << " bytes was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  write_bytes(path, bytes + "x");
  EXPECT_THROW(read_calibration_file(path, "k", &back), Error);
  write_bytes(path, "layer,absmax\n1,2\n");
  EXPECT_THROW(read_calibration_file(path, "k", &back), Error);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sqsim
