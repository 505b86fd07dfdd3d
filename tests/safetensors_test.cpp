// safetensors reader/writer: round trips, half-precision rounding, sharded
// checkpoints, and refusal of truncated or inconsistent files.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/error.h"
#include "sim/formats/gguf_dequant.h"
#include "sim/formats/safetensors_file.h"

using namespace sqsim;
namespace fs = std::filesystem;

namespace {

std::string temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("sqsim_st_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// A file made of an 8-byte length, the given header text and `data_bytes` zero bytes.
std::string raw_file(const std::string& dir, const std::string& header, size_t data_bytes,
                     uint64_t declared_len = UINT64_MAX) {
  const std::string path = dir + "/raw.safetensors";
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = declared_len == UINT64_MAX ? header.size() : declared_len;
  for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xff));
  out << header << std::string(data_bytes, '\0');
  return path;
}

std::string open_error(const std::string& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Safetensors, HalfPrecisionRoundsToNearestEven) {
  EXPECT_EQ(float_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_fp16(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_fp16(65520.0f), 0x7c00);              // halfway to 65536 rounds to even: Inf
  EXPECT_EQ(float_to_fp16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // halfway to it: even is 0
  EXPECT_EQ(float_to_fp16(std::ldexp(1.5f, -24)), 0x0002);  // 1.5 units: even is 2
  EXPECT_EQ(float_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // halfway: stays even
  EXPECT_EQ(float_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // halfway: even
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);
  // Every half value survives float -> half -> float.
  for (uint32_t h = 0; h < 0x7c00; ++h) ASSERT_EQ(float_to_fp16(fp16_to_float(uint16_t(h))), h) << h;
}

TEST(Safetensors, WriteReadRoundTripInEveryDtype) {
  const std::string dir = temp_dir("rt");
  std::vector<float> w(6), b = {0.5f, -1.25f, 3.0f};
  for (int i = 0; i < 6; ++i) w[i] = 0.1f * float(i) - 0.2f;
  for (const char* dt : {"F32", "F16", "BF16"}) {
    const std::string path = dir + "/" + dt + ".safetensors";
    write_safetensors(path, {{"w", {3, 2}, w}, {"b", {3}, b}}, dt, {{"format", "pt"}});
    const SafetensorsFile f = SafetensorsFile::open(path);
    EXPECT_EQ(f.header().metadata.at("format"), "pt");
    ASSERT_EQ(f.header().tensors.size(), 2u);
    EXPECT_EQ(f.find("w")->dtype, dt);
    const MatrixF mw = f.load("w"), mb = f.load("b");
    ASSERT_EQ(mw.rows(), 3);
    ASSERT_EQ(mw.cols(), 2);
    ASSERT_EQ(mb.rows(), 1);
    for (int i = 0; i < 6; ++i) {
      const float want = std::string(dt) == "F32"   ? w[i]
                         : std::string(dt) == "F16" ? fp16_to_float(float_to_fp16(w[i]))
                                                    : bf16_to_float(float_to_bf16(w[i]));
      EXPECT_EQ(mw(i / 2, i % 2), want) << dt << " " << i;
    }
    EXPECT_EQ(mb(0, 1), -1.25f);  // exact in every dtype
  }
  fs::remove_all(dir);
}

TEST(Safetensors, RefusesTruncatedAndInconsistentFiles) {
  const std::string dir = temp_dir("bad");
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2,1],"data_offsets":[8,12]}})";
  EXPECT_EQ(open_error(raw_file(dir, ok, 12)), "");
  struct Case {
    std::string header;
    size_t data;
    const char* message;
  } cases[] = {
      {ok, 11, "tensor b: data_offsets [8, 12] run past the data region of 11 bytes"},
      {ok, 13, "data region has 13 bytes but the tensors cover 12"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[6,10]}})",
       10, "tensor b [6, 10) overlaps tensor a"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[10,14]}})",
       14, "bytes [8, 10) of the data region belong to no tensor"},
      {R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8,
       "tensor a: shape [3] of F32 needs 12 bytes, data_offsets give 8"},
      {R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8, "tensor a: unknown dtype \"Q4\""},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, "end before begin"},
      {R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "shape entries must be non-negative"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8, "data_offsets must be an array [begin, end]"},
      {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8,
       "element count overflows"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8, "unknown key \"x\""},
      {R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8, "tensor a: missing key \"dtype\""},
      {R"([1,2])", 0, "header is a JSON array, expected an object"},
      {R"({"a":{"dtype":"F32",)", 8, "JSON error at byte"},
  };
  for (const Case& c : cases) {
    const std::string path = raw_file(dir, c.header, c.data);
    const std::string e = open_error(path);
    EXPECT_EQ(e.rfind(path, 0), 0u) << e;  // names the file
    EXPECT_NE(e.find(c.message), std::string::npos) << c.header << " -> " << e;
  }
  // Header length beyond the file, and files too short to hold one.
  const std::string big = raw_file(dir, ok, 12, 1000);
  EXPECT_NE(open_error(big).find("header length 1000 exceeds the"), std::string::npos) << open_error(big);
  {
    std::ofstream(dir + "/short.safetensors", std::ios::binary) << "abc";
    EXPECT_NE(open_error(dir + "/short.safetensors").find("too short"), std::string::npos);
  }
  // A real file cut anywhere is refused at open.
  write_safetensors(dir + "/full.safetensors", {{"w", {4, 4}, std::vector<float>(16, 1.0f)}}, "F32");
  std::ifstream in(dir + "/full.safetensors", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    std::ofstream(dir + "/cut.safetensors", std::ios::binary) << bytes.substr(0, cut);
    EXPECT_NE(open_error(dir + "/cut.safetensors"), "") << "cut at " << cut;
  }
  // Reading refuses dtypes and ranks it cannot turn into a float matrix.
  {
    const std::string p = raw_file(dir, R"({"i":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", 8);
    const SafetensorsFile f = SafetensorsFile::open(p);
    EXPECT_THROW(f.load("i"), Error);
    EXPECT_THROW(f.load("missing"), Error);
  }
  fs::remove_all(dir);
}

TEST(Safetensors, ShardedCheckpointFollowsTheIndex) {
  const std::string dir = temp_dir("shard");
  write_safetensors(dir + "/model-00001-of-00002.safetensors", {{"x", {2}, {1.0f, 2.0f}}}, "F32");
  write_safetensors(dir + "/model-00002-of-00002.safetensors", {{"y", {1, 2}, {3.0f, 4.0f}}}, "BF16");
  auto write_index = [&](const std::string& map) {
    std::ofstream(dir + "/model.safetensors.index.json") << "{\"metadata\": {}, \"weight_map\": {" << map << "}}";
  };
  write_index(R"("x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors")");
  const SafetensorsCheckpoint c = SafetensorsCheckpoint::open_dir(dir);
  EXPECT_TRUE(c.has("x"));
  EXPECT_EQ(c.load("y")(0, 1), 4.0f);
  EXPECT_EQ(c.info("y").dtype, "BF16");
  EXPECT_THROW(c.load("z"), Error);

  auto open_err = [&]() -> std::string {
    try {
      SafetensorsCheckpoint::open_dir(dir);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  write_index(R"("x": "model-00002-of-00002.safetensors")");
  EXPECT_NE(open_err().find("puts tensor x in model-00002-of-00002.safetensors, which does not hold it"),
            std::string::npos)
      << open_err();
  write_index(R"("x": "../model-00001-of-00002.safetensors")");
  EXPECT_NE(open_err().find("must name a file in the same folder"), std::string::npos) << open_err();
  write_index(R"("x": "absent.safetensors")");
  EXPECT_NE(open_err().find("absent.safetensors"), std::string::npos) << open_err();
  fs::remove(dir + "/model.safetensors.index.json");
  EXPECT_NE(open_err().find("no model.safetensors"), std::string::npos) << open_err();
  fs::remove_all(dir);
}
