// GGUF reader: synthetic files written byte by byte here, refusals of damaged
// files, and (when present) the real SmolLM2-135M-Instruct Q4_1 file.
#include <gtest/gtest.h>

#include "tests/run_sqsim.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "base/error.h"
#include "base/paths.h"
#include "sim/formats/gguf_file.h"
#include "tests/gguf_writer.h"

namespace {

using sqsim::Error;
using sqsim::GgufFile;
using sqsim_test::Bytes;
using sqsim_test::TensorSpec;
using sqsim_test::build;

// Half-precision bit patterns of exactly representable values.
constexpr uint16_t kH_0_5 = 0x3800, kH_0_25 = 0x3400, kH_1 = 0x3C00, kH_2 = 0x4000, kH_m1 = 0xBC00,
                   kH_m0_125 = 0xB000;

// Metadata with one value of every type, including nested and string arrays.
std::vector<uint8_t> all_types_kv(uint64_t& n) {
  Bytes k;
  k.str("general.architecture"); k.u32(8); k.str("llama"); ++n;
  k.str("u8"); k.u32(0); k.u8(200); ++n;
  k.str("i8"); k.u32(1); k.u8(0xFE); ++n;  // -2
  k.str("u16"); k.u32(2); k.u16(60000); ++n;
  k.str("i16"); k.u32(3); k.u16(0x8000); ++n;  // -32768
  k.str("llama.block_count"); k.u32(4); k.u32(30); ++n;
  k.str("i32"); k.u32(5); k.u32(0xFFFFFFF9u); ++n;  // -7
  k.str("llama.rope.freq_base"); k.u32(6); k.f32(100000.0f); ++n;
  k.str("flag"); k.u32(7); k.u8(1); ++n;
  k.str("u64"); k.u32(10); k.u64(uint64_t{1} << 40); ++n;
  k.str("i64"); k.u32(11); k.u64(static_cast<uint64_t>(int64_t{-5})); ++n;
  k.str("f64"); k.u32(12); k.f64(-2.5); ++n;
  k.str("tokens"); k.u32(9); k.u32(8); k.u64(3); k.str("a"); k.str(""); k.str("<s>"); ++n;
  k.str("ids"); k.u32(9); k.u32(5); k.u64(2); k.u32(7); k.u32(0xFFFFFFFFu); ++n;
  k.str("nested"); k.u32(9); k.u32(9); k.u64(2);
  k.u32(0); k.u64(2); k.u8(1); k.u8(2);
  k.u32(8); k.u64(1); k.str("x"); ++n;
  return k.b;
}

std::vector<uint8_t> f32_data(const std::vector<float>& v) {
  Bytes b;
  for (float f : v) b.f32(f);
  return b.b;
}

// Five small tensors with hand-computable values; `expected` gets their floats.
std::vector<TensorSpec> sample_tensors(std::vector<std::vector<float>>& expected) {
  std::vector<TensorSpec> ts;
  // F32 [ne0=3, ne1=2]: rows are contiguous triples.
  ts.push_back({"f32", {3, 2}, 0, f32_data({1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f})});
  expected.push_back({1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f});
  // F16 [4]: 1, -1, 0.5, 65504 (max half), plus a subnormal 2^-24.
  {
    Bytes b;
    for (uint16_t h : {kH_1, kH_m1, kH_0_5, uint16_t(0x7BFF), uint16_t(0x0001)}) b.u16(h);
    ts.push_back({"f16", {5}, 1, b.b});
    expected.push_back({1.0f, -1.0f, 0.5f, 65504.0f, std::ldexp(1.0f, -24)});
  }
  // BF16 [2]: 0x3FC0 = 1.5, 0xC040 = -3.
  {
    Bytes b;
    b.u16(0x3FC0);
    b.u16(0xC040);
    ts.push_back({"bf16", {2}, 30, b.b});
    expected.push_back({1.5f, -3.0f});
  }
  // Q8_0 [32, 2]: block 0 d=0.5, q[j] = j - 16; block 1 d=-0.125, q[j] = 127 - 8j (wraps to int8).
  {
    Bytes b;
    std::vector<float> e;
    b.u16(kH_0_5);
    for (int j = 0; j < 32; ++j) { b.u8(static_cast<uint8_t>(static_cast<int8_t>(j - 16))); e.push_back(0.5f * (j - 16)); }
    b.u16(kH_m0_125);
    for (int j = 0; j < 32; ++j) {
      const int q = 127 - 8 * j;  // 127 .. -121
      b.u8(static_cast<uint8_t>(static_cast<int8_t>(q)));
      e.push_back(-0.125f * q);
    }
    ts.push_back({"q8_0", {32, 2}, 8, b.b});
    expected.push_back(e);
  }
  // Q4_0 [64]: d=2 then d=0.25; byte j holds element j (low nibble) and j+16 (high).
  {
    Bytes b;
    std::vector<float> e(64);
    const uint16_t ds[2] = {kH_2, kH_0_25};
    const float df[2] = {2.0f, 0.25f};
    for (int blk = 0; blk < 2; ++blk) {
      b.u16(ds[blk]);
      for (int j = 0; j < 16; ++j) {
        const int lo = (j + blk) % 16, hi = 15 - j;
        b.u8(static_cast<uint8_t>(lo | (hi << 4)));
        e[32 * blk + j] = df[blk] * (lo - 8);
        e[32 * blk + j + 16] = df[blk] * (hi - 8);
      }
    }
    ts.push_back({"q4_0", {64}, 2, b.b});
    expected.push_back(e);
  }
  // Q4_1 [32, 3]: d, m per block; value = d*q + m.
  {
    Bytes b;
    std::vector<float> e(96);
    const uint16_t ds[3] = {kH_0_5, kH_1, kH_0_25};
    const uint16_t ms[3] = {kH_m1, kH_2, kH_m0_125};
    const float df[3] = {0.5f, 1.0f, 0.25f}, mf[3] = {-1.0f, 2.0f, -0.125f};
    for (int blk = 0; blk < 3; ++blk) {
      b.u16(ds[blk]);
      b.u16(ms[blk]);
      for (int j = 0; j < 16; ++j) {
        const int lo = (3 * j + blk) % 16, hi = (j * 7 + 1) % 16;
        b.u8(static_cast<uint8_t>(lo | (hi << 4)));
        e[32 * blk + j] = df[blk] * lo + mf[blk];
        e[32 * blk + j + 16] = df[blk] * hi + mf[blk];
      }
    }
    ts.push_back({"q4_1", {32, 3}, 3, b.b});
    expected.push_back(e);
  }
  return ts;
}

std::vector<uint8_t> sample_file(uint32_t version = 3) {
  uint64_t n = 0;
  const std::vector<uint8_t> kv = all_types_kv(n);
  std::vector<std::vector<float>> e;
  return build(version, n, kv, sample_tensors(e));
}

// Expects parse() to throw an Error whose message names the file and contains `needle`.
void expect_refused(const std::vector<uint8_t>& bytes, const std::string& needle, const std::string& name = "bad.gguf") {
  try {
    GgufFile::parse(bytes, name);
    ADD_FAILURE() << "accepted a damaged file; expected an error containing \"" << needle << "\"";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(Gguf, MetadataOfEveryType) {
  for (uint32_t version : {2u, 3u}) {
    const GgufFile g = GgufFile::parse(sample_file(version), "mem.gguf");
    EXPECT_EQ(g.version(), version);
    EXPECT_EQ(g.alignment(), 32u);
    EXPECT_EQ(g.data_offset() % 32, 0u);
    EXPECT_EQ(g.get_string("general.architecture"), "llama");
    EXPECT_EQ(g.get_int("u8"), 200);
    EXPECT_EQ(g.get_int("i8"), -2);
    EXPECT_EQ(g.get_int("u16"), 60000);
    EXPECT_EQ(g.get_int("i16"), -32768);
    EXPECT_EQ(g.get_int("llama.block_count"), 30);
    EXPECT_EQ(g.get_int("i32"), -7);
    EXPECT_EQ(g.get_float("llama.rope.freq_base"), 100000.0);
    EXPECT_TRUE(g.get_bool("flag"));
    EXPECT_EQ(g.get_int("u64"), int64_t{1} << 40);
    EXPECT_EQ(g.get_int("i64"), -5);
    EXPECT_EQ(g.get_float("f64"), -2.5);
    EXPECT_EQ(g.get_float("llama.block_count"), 30.0);
    EXPECT_EQ(g.get_string_array("tokens"), (std::vector<std::string>{"a", "", "<s>"}));
    EXPECT_EQ(g.get_int_array("ids"), (std::vector<int64_t>{7, -1}));
    const sqsim::GgufValue& nested = g.get("nested");
    ASSERT_EQ(nested.items.size(), 2u);
    EXPECT_EQ(nested.items[0].items[1].u, 2u);
    EXPECT_EQ(nested.items[1].items[0].s, "x");
    EXPECT_EQ(g.metadata().size(), 15u);
    EXPECT_FALSE(g.has("nope"));
  }
}

TEST(Gguf, MetadataErrorsNameTheKey) {
  const GgufFile g = GgufFile::parse(sample_file(), "mem.gguf");
  try {
    g.get_int("llama.embedding_length");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mem.gguf: missing metadata key llama.embedding_length"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(g.get_string("u8"), Error);
  EXPECT_THROW(g.get_int("general.architecture"), Error);
  EXPECT_THROW(g.get_string_array("ids"), Error);
  EXPECT_THROW(g.get_int_array("tokens"), Error);
  EXPECT_THROW(g.get_bool("u8"), Error);
  EXPECT_THROW(g.load_tensor("missing.weight"), Error);
}

TEST(Gguf, DequantizesSyntheticTensors) {
  uint64_t n = 0;
  const std::vector<uint8_t> kv = all_types_kv(n);
  std::vector<std::vector<float>> expected;
  const std::vector<TensorSpec> specs = sample_tensors(expected);
  for (size_t alignment : {size_t{32}, size_t{64}}) {
    std::vector<uint8_t> bytes;
    if (alignment == 32) {
      bytes = build(3, n, kv, specs);
    } else {
      Bytes k;
      k.b = kv;
      k.str("general.alignment"); k.u32(4); k.u32(64);
      bytes = build(3, n + 1, k.b, specs, 64);
    }
    const GgufFile g = GgufFile::parse(bytes, "mem.gguf");
    EXPECT_EQ(g.alignment(), alignment);
    EXPECT_EQ(g.data_offset() % alignment, 0u);
    ASSERT_EQ(g.tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      SCOPED_TRACE(specs[i].name);
      const sqsim::GgufTensorInfo& t = g.tensor(specs[i].name);
      EXPECT_EQ(t.dims, specs[i].dims);
      EXPECT_EQ(t.type, specs[i].type);
      EXPECT_EQ(t.n_bytes, specs[i].data.size());
      const sqsim::MatrixF m = g.load_tensor(specs[i].name);
      EXPECT_EQ(static_cast<uint64_t>(m.cols()), specs[i].dims[0]);
      EXPECT_EQ(static_cast<uint64_t>(m.rows()), specs[i].dims.size() > 1 ? specs[i].dims[1] : 1u);
      ASSERT_EQ(static_cast<size_t>(m.size()), expected[i].size());
      for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < m.cols(); ++c)
          EXPECT_EQ(m(r, c), expected[i][static_cast<size_t>(r * m.cols() + c)]) << "row " << r << " col " << c;
    }
  }
}

TEST(Gguf, RowMajorLayoutOfTwoDimensionalTensor) {
  const GgufFile g = GgufFile::parse(sample_file(), "mem.gguf");
  const sqsim::MatrixF m = g.load_tensor("f32");  // dims [ne0=3, ne1=2]
  ASSERT_EQ(m.rows(), 2);
  ASSERT_EQ(m.cols(), 3);
  EXPECT_EQ(m(0, 2), 3.25f);
  EXPECT_EQ(m(1, 0), 0.0f);
  EXPECT_EQ(m(1, 2), -7.0f);
}

TEST(Gguf, TruncatedFilesRefused) {
  const std::vector<uint8_t> full = sample_file();
  GgufFile::parse(full, "cut.gguf");  // the whole file is fine
  // Every cut point: the header, inside keys and values, inside tensor infos,
  // at the data section start and inside the last tensor's data.
  for (size_t cut = 0; cut < full.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_THROW(
        {
          try {
            GgufFile::parse(part, "cut.gguf");
          } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).rfind("cut.gguf: ", 0), 0u) << e.what();
            throw;
          }
        },
        Error);
  }
}

TEST(Gguf, BadMagicAndVersionRefused) {
  std::vector<uint8_t> b = sample_file();
  b[0] = 'X';
  expect_refused(b, "bad magic");
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
    b = sample_file();
    std::memcpy(&b[4], &v, 4);
    expect_refused(b, "offset 4: GGUF version " + std::to_string(v) + " (expected 2 or 3");
  }
}

TEST(Gguf, HugeCountsAndLengthsRefused) {
  // Header counts.
  std::vector<uint8_t> b = sample_file();
  for (int k = 0; k < 8; ++k) b[8 + k] = 0xFF;
  expect_refused(b, "offset 8: tensor count");
  b = sample_file();
  for (int k = 0; k < 8; ++k) b[16 + k] = 0xFF;
  expect_refused(b, "offset 16: metadata key/value count");
  // First key's length (right after the 24-byte header).
  b = sample_file();
  b[24 + 7] = 0x7F;
  expect_refused(b, "offset 24: metadata key length");
  // A string value length and an array length.
  {
    Bytes k;
    k.str("s"); k.u32(8); k.u64(uint64_t{1} << 62);
    expect_refused(build(3, 1, k.b, {}), "key s");
    Bytes a;
    a.str("arr"); a.u32(9); a.u32(8); a.u64(uint64_t{1} << 61);
    expect_refused(build(3, 1, a.b, {}), "key arr: array of 2305843009213693952 string values cannot fit");
    Bytes t;
    t.str("bad"); t.u32(13); t.u8(0);
    expect_refused(build(3, 1, t.b, {}), "key bad: value type 13");
  }
}

TEST(Gguf, BadTensorInfosRefused) {
  const std::vector<uint8_t> four(16, 0);
  // Unknown type number.
  expect_refused(build(3, 0, {}, {{"t", {4}, 99, four}}), "tensor t: unknown tensor type 99");
  // Dimension product overflow.
  expect_refused(build(3, 0, {}, {{"t", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, four}}), "tensor t: element count overflows");
  // Too many dimensions, zero dimension.
  expect_refused(build(3, 0, {}, {{"t", {1, 1, 1, 1, 1}, 0, four}}), "tensor t: 5 dimensions");
  expect_refused(build(3, 0, {}, {{"t", {4, 0}, 0, four}}), "tensor t: dimension 1 is 0");
  // Quantized row not a whole number of blocks.
  expect_refused(build(3, 0, {}, {{"t", {16}, 8, std::vector<uint8_t>(34, 0)}}), "tensor t: ne0 = 16 is not a multiple");
  // Data past the end: claims 8 floats, holds 4.
  expect_refused(build(3, 0, {}, {{"t", {8}, 0, four}}), "tensor t: data [0, 32)");
  // Offset far past the end, and a misaligned offset.
  std::vector<uint8_t> b = build(3, 0, {}, {{"t", {4}, 0, four}});
  // Offset sits 8 bytes before the padded data section start: find it by layout.
  const size_t off_pos = 24 + 8 + 1 + 4 + 8 + 4;
  for (int k = 0; k < 8; ++k) b[off_pos + k] = 0;
  b[off_pos + 5] = 0x01;  // 2^40
  expect_refused(b, "runs past the end of the file");
  b[off_pos + 5] = 0;
  b[off_pos] = 4;
  expect_refused(b, "offset " + std::to_string(off_pos) + ": tensor t: data offset 4 is not a multiple of the alignment 32");
  // Bad alignment value.
  Bytes k;
  k.str("general.alignment"); k.u32(4); k.u32(24);
  expect_refused(build(3, 1, k.b, {}), "key general.alignment");
  // Quantized type the dequantizer does not support (Q8_1: only an activation
  // format in llama.cpp) is listed but refused at load, naming file, tensor, type.
  const GgufFile g = GgufFile::parse(build(3, 0, {}, {{"k", {32}, 9, std::vector<uint8_t>(36, 0)}}), "q81.gguf");
  EXPECT_EQ(g.tensor("k").type_name(), "Q8_1");
  try {
    g.load_tensor("k");
    ADD_FAILURE() << "Q8_1 loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q81.gguf: tensor k: cannot dequantize tensor type Q8_1 (9)"),
              std::string::npos) << e.what();
  }
}

// Deterministic random byte damage: every variant either parses (and then all
// its tensors load or are refused with an Error) or is refused with an Error.
TEST(Gguf, RandomCorruptionRefusedOrParsed) {
  const std::vector<uint8_t> full = sample_file();
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int parsed = 0, refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> b = full;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) b[next() % b.size()] = static_cast<uint8_t>(next());
    try {
      const GgufFile g = GgufFile::parse(b, "fuzz.gguf");
      ++parsed;
      for (const auto& t : g.tensors()) {
        try {
          (void)g.load_tensor(t.name);
        } catch (const Error&) {
        }
      }
    } catch (const Error& e) {
      ++refused;
      EXPECT_EQ(std::string(e.what()).rfind("fuzz.gguf: ", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(refused, 0);
}

TEST(Gguf, OpenNamesMissingFile) {
  try {
    GgufFile::open("/nonexistent/dir/model.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.gguf"), std::string::npos);
  }
}

TEST(Gguf, ModelInfoCommandOnSyntheticFile) {
  char dir[] = "/tmp/sqsim_gguf_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/tiny.gguf";
  {
    const std::vector<uint8_t> b = sample_file();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  const CliRun r = run("model-info --model " + path + " --tensors");
  const std::string& out = r.out;
  std::remove(path.c_str());
  rmdir(dir);
  EXPECT_EQ(r.status, 0) << out;
  EXPECT_NE(out.find("architecture: llama"), std::string::npos) << out;
  EXPECT_NE(out.find("llama.block_count: 30"), std::string::npos) << out;
  EXPECT_NE(out.find("tensors: 6"), std::string::npos) << out;
  EXPECT_NE(out.find("q4_1\tQ4_1\t[32, 3]"), std::string::npos) << out;
}

// ---- The real model file (skipped when models/ does not hold it). ----

const std::string kModel = sqsim::models_dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf";

bool have_model() { return std::ifstream(kModel).good(); }

TEST(GgufModel, SmolLM2Metadata) {
  if (!have_model()) GTEST_SKIP() << kModel << " not present (bash scripts/fetch-model.sh)";
  const GgufFile g = GgufFile::open(kModel);
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.block_count"), 30);
  EXPECT_EQ(g.get_int("llama.embedding_length"), 576);
  EXPECT_EQ(g.get_int("llama.attention.head_count"), 9);
  EXPECT_EQ(g.get_int("llama.attention.head_count_kv"), 3);
  EXPECT_EQ(g.get_int("llama.feed_forward_length"), 1536);
  EXPECT_EQ(g.get_int("llama.vocab_size"), 49152);
  EXPECT_FLOAT_EQ(static_cast<float>(g.get_float("llama.rope.freq_base")), 100000.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(g.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(g.get_string_array("tokenizer.ggml.tokens").size(), 49152u);
  EXPECT_EQ(g.get_int_array("tokenizer.ggml.token_type").size(), 49152u);
  EXPECT_EQ(g.tensors().size(), 272u);
  int q41 = 0, f32 = 0, q80 = 0;
  for (const auto& t : g.tensors()) {
    q41 += t.type == 3;
    f32 += t.type == 0;
    q80 += t.type == 8;
  }
  EXPECT_EQ(q41, 210);
  EXPECT_EQ(f32, 61);
  EXPECT_EQ(q80, 1);
}

// Expected values made with Python's gguf package (gguf.GGUFReader on this file,
// gguf.quants.dequantize(tensor.data, tensor.tensor_type) reshaped to
// (-1, shape[0]) as float32; sums accumulated in float64).
TEST(GgufModel, SmolLM2DequantizedValues) {
  if (!have_model()) GTEST_SKIP() << kModel << " not present (bash scripts/fetch-model.sh)";
  const GgufFile g = GgufFile::open(kModel);
  {
    const sqsim::MatrixF e = g.load_tensor("token_embd.weight");  // Q8_0, [576, 49152]
    ASSERT_EQ(e.rows(), 49152);
    ASSERT_EQ(e.cols(), 576);
    EXPECT_EQ(e(0, 0), -0.10654449462890625f);
    EXPECT_EQ(e(1, 0), -0.0238037109375f);
    EXPECT_EQ(e(1, 1), -0.015869140625f);
    EXPECT_EQ(e(1, 17), 0.79345703125f);
    EXPECT_EQ(e(100, 575), 0.12830352783203125f);
    EXPECT_EQ(e(49151, 33), 0.0957489013671875f);
    EXPECT_NEAR(e.cast<double>().sum(), -15353.04449415207, 1e-6);
  }
  {
    const sqsim::MatrixF w = g.load_tensor("blk.0.ffn_down.weight");  // Q4_1, [1536, 576]
    ASSERT_EQ(w.rows(), 576);
    ASSERT_EQ(w.cols(), 1536);
    EXPECT_EQ(w(0, 0), -0.330810546875f);
    EXPECT_EQ(w(0, 1), 0.3460693359375f);
    EXPECT_EQ(w(0, 16), -0.6015625f);
    EXPECT_EQ(w(0, 17), -0.6015625f);
    EXPECT_EQ(w(5, 1000), -0.26171875f);
    EXPECT_EQ(w(575, 1535), -0.181365966796875f);
    EXPECT_NEAR(w.cast<double>().sum(), 150.63577270507812, 1e-6);
  }
  {
    const sqsim::MatrixF n = g.load_tensor("blk.0.attn_norm.weight");  // F32, [576]
    ASSERT_EQ(n.rows(), 1);
    ASSERT_EQ(n.cols(), 576);
    EXPECT_EQ(n(0, 0), 0.01397705078125f);
    EXPECT_EQ(n(0, 575), -0.038330078125f);
    EXPECT_NEAR(n.cast<double>().sum(), 0.6129436492919922, 1e-9);
  }
}

}  // namespace
