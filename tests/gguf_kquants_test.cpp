// K-quant and Q5 block decoding on hand-made blocks: each block sets a few
// fields (scales, quants, high bits) at positions worked out from the layout
// in docs/gguf.md, and the expected floats are computed by hand from the
// formulas there. tests/python/test_gguf_kquants.py checks the same decoders
// against the gguf package on random blocks and on the Gemma 3 file.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "sim/formats/gguf_dequant.h"

namespace {

constexpr uint16_t kH_1 = 0x3C00, kH_0_5 = 0x3800;

void put_half(std::vector<uint8_t>& b, size_t at, uint16_t h) {
  b[at] = uint8_t(h & 0xff);
  b[at + 1] = uint8_t(h >> 8);
}

std::vector<float> decode(uint32_t type, const std::vector<uint8_t>& block, size_t n) {
  std::vector<float> out(n, -12345.0f);
  sqsim::dequantize(type, block.data(), n, out.data(), "test");
  return out;
}

TEST(GgufKQuants, Q4KScalesMinsAndNibbles) {
  std::vector<uint8_t> b(144, 0);
  put_half(b, 0, kH_1);    // d
  put_half(b, 2, kH_0_5);  // dmin
  uint8_t* s = &b[4];
  s[0] = 3;   // sub-block 0: scale 3
  s[4] = 2;   //              min 2
  s[9] = 0x15;  // sub-block 5: scale low 4 bits 5, min low 4 bits 1
  s[1] = 0x80;  // sub-block 5: scale top bits 2 -> 5 + 32 = 37 (sub-block 1 scale stays 0)
  s[5] = 0x40;  // sub-block 5: min top bits 1 -> 1 + 16 = 17
  uint8_t* qs = &b[16];
  qs[0] = 0x07;       // element 0 (low nibble of byte 0)
  qs[64 + 3] = 0x90;  // element 5 * 32 + 3 = 163: high nibble of byte 64 + 3
  const std::vector<float> y = decode(12, b, 256);
  EXPECT_EQ(y[0], 1.0f * 3 * 7 - 0.5f * 2);
  EXPECT_EQ(y[1], -1.0f);                  // q = 0
  EXPECT_EQ(y[32], 0.0f);                  // sub-block 1: scale 0, min 0
  EXPECT_EQ(y[163], 37.0f * 9 - 0.5f * 17);
  EXPECT_EQ(y[160], -8.5f);
  EXPECT_EQ(y[128 + 3], 0.0f);             // low nibble of byte 67 (sub-block 4)
}

TEST(GgufKQuants, Q5KFifthBitFromQh) {
  std::vector<uint8_t> b(176, 0);
  put_half(b, 0, kH_1);
  put_half(b, 2, kH_1);
  uint8_t* s = &b[4];
  s[0] = 1;      // sub-block 0: scale 1, min 0
  s[11] = 0x34;  // sub-block 7: scale 4, min 3 (top bits in s[3], s[7] zero)
  uint8_t* qh = &b[16];
  uint8_t* qs = &b[48];
  qs[0] = 0x0F;
  qh[0] = 0x01;        // element 0: 15 + 16
  qs[96 + 5] = 0x20;   // element 7 * 32 + 5 = 229: high nibble of byte 96 + 5
  qh[5] = 0x80;        //   its fifth bit is bit 7 of qh[5]
  const std::vector<float> y = decode(13, b, 256);
  EXPECT_EQ(y[0], 31.0f);
  EXPECT_EQ(y[229], 4.0f * 18 - 3);
  EXPECT_EQ(y[230], -3.0f);
  EXPECT_EQ(y[5], 0.0f);  // qh[5] bit 0 is clear
}

TEST(GgufKQuants, Q6KSignedScalesAndTwoHighBits) {
  std::vector<uint8_t> b(210, 0);
  uint8_t* ql = &b[0];
  uint8_t* qh = &b[128];
  int8_t* sc = reinterpret_cast<int8_t*>(&b[192]);
  put_half(b, 208, kH_0_5);
  sc[0] = 2;
  sc[13] = -3;
  ql[0] = 0x0A;
  qh[0] = 0x02;  // element 0: 10 | 2 << 4 = 42 -> 42 - 32 = 10
  // Element 208 = 128 + 2 * 32 + 16: second half, k = 2 (high nibble of
  // ql[64 + 16]), bits 4..5 of qh[32 + 16]; scale 208 / 16 = 13.
  ql[80] = 0x50;
  qh[48] = 0x10;
  const std::vector<float> y = decode(14, b, 256);
  EXPECT_EQ(y[0], 0.5f * 2 * 10);
  EXPECT_EQ(y[1], 0.5f * 2 * -32);
  EXPECT_EQ(y[208], 0.5f * -3 * (21 - 32));
  EXPECT_EQ(y[209], 0.5f * -3 * -32);
  EXPECT_EQ(y[144], 0.0f);  // low nibble of ql[80]: scale 9 = 0
}

TEST(GgufKQuants, Q3KSixBitScalesAndHmask) {
  std::vector<uint8_t> b(110, 0);
  uint8_t* hmask = &b[0];
  uint8_t* qs = &b[32];
  uint8_t* s = &b[96];
  put_half(b, 108, kH_1);
  // Scale 0 = 33 - 32 = 1: low 4 bits 1 in s[0], top 2 bits 2 in s[8] bits 0..1.
  s[0] = 0x01;
  s[8] = 0x02;
  // Scale 13 = 30 - 32 = -2: low 4 bits 14 in the high nibble of s[5], top
  // 2 bits 1 in s[8 + 13 % 4] bits 2 * (13 / 4) = 6..7.
  s[5] = 0xE0;
  s[9] = 0x40;
  qs[0] = 0x03;
  hmask[0] = 0x01;  // element 0: 3, high bit set -> 3
  // Element 213 = 128 + 2 * 32 + 21: bits 4..5 of qs[32 + 21], hmask[21] bit 4 + 2.
  qs[53] = 0x10;
  hmask[21] = 0x40;
  const std::vector<float> y = decode(11, b, 256);
  EXPECT_EQ(y[0], 3.0f);
  EXPECT_EQ(y[1], -4.0f);          // 0 with the high bit clear
  EXPECT_EQ(y[213], -2.0f * 1);
  EXPECT_EQ(y[214], -2.0f * -4);
  EXPECT_EQ(y[20], -32.0f * -4);   // scale 1 is 0 - 32
}

TEST(GgufKQuants, Q2KNibbleScalesAndMins) {
  std::vector<uint8_t> b(84, 0);
  uint8_t* scales = &b[0];
  uint8_t* qs = &b[16];
  put_half(b, 80, kH_1);
  put_half(b, 82, kH_0_5);
  scales[0] = 0x23;   // scale 3, min 2
  scales[11] = 0x15;  // scale 5, min 1
  qs[0] = 0x02;
  // Element 180 = 128 + 32 + 20: bits 2..3 of qs[32 + 20], scale 11.
  qs[52] = 0x0C;
  const std::vector<float> y = decode(10, b, 256);
  EXPECT_EQ(y[0], 3.0f * 2 - 0.5f * 2);
  EXPECT_EQ(y[1], -1.0f);
  EXPECT_EQ(y[180], 5.0f * 3 - 0.5f);
  EXPECT_EQ(y[181], -0.5f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[148], 0.0f);  // bits 0..1 of qs[52]
}

TEST(GgufKQuants, Q8KFloat32ScaleIgnoresBlockSums) {
  std::vector<uint8_t> b(292, 0);
  const float d = 0.25f;
  std::memcpy(&b[0], &d, 4);
  b[4] = uint8_t(-3);
  b[4 + 255] = 127;
  for (int i = 260; i < 292; ++i) b[i] = 0xAB;  // bsums: not part of the values
  const std::vector<float> y = decode(15, b, 256);
  EXPECT_EQ(y[0], -0.75f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[255], 31.75f);
}

TEST(GgufKQuants, Q5ZeroAndOneFifthBit) {
  // Q5_0: d, qh (u32), 16 nibble bytes. Q5_1: d, m, qh, nibbles.
  std::vector<uint8_t> q50(22, 0), q51(24, 0);
  put_half(q50, 0, kH_0_5);
  q50[2] = 0x01;     // qh bit 0: element 0's fifth bit
  q50[6] = 0x3F;     // element 0 low nibble 15, element 16 high nibble 3
  q50[2 + 3] = 0x80; // qh bit 31: element 31's fifth bit
  const std::vector<float> y0 = decode(6, q50, 32);
  EXPECT_EQ(y0[0], 0.5f * (31 - 16));
  EXPECT_EQ(y0[16], 0.5f * (3 - 16));
  EXPECT_EQ(y0[1], 0.5f * -16);
  EXPECT_EQ(y0[31], 0.5f * (16 - 16));
  put_half(q51, 0, kH_0_5);
  put_half(q51, 2, kH_1);
  q51[4] = 0x01;
  q51[8] = 0x3F;
  const std::vector<float> y1 = decode(7, q51, 32);
  EXPECT_EQ(y1[0], 0.5f * 31 + 1);
  EXPECT_EQ(y1[16], 0.5f * 3 + 1);
  EXPECT_EQ(y1[1], 1.0f);
}

TEST(GgufKQuants, SeveralBlocksDecodeIndependently) {
  // Two Q4_K blocks: the second's d doubles its values, the first is unchanged.
  std::vector<uint8_t> b(288, 0);
  for (int k = 0; k < 2; ++k) {
    put_half(b, 144 * k, k ? uint16_t(0x4000) : kH_1);
    b[144 * k + 4] = 1;
    b[144 * k + 16] = 0x05;
  }
  const std::vector<float> y = decode(12, b, 512);
  EXPECT_EQ(y[0], 5.0f);
  EXPECT_EQ(y[256], 10.0f);
  EXPECT_THROW(decode(12, b, 300), sqsim::Error);  // not a whole number of blocks
}

}  // namespace
