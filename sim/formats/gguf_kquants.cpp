#include "sim/formats/gguf_kquants.h"

#include <cstring>

#include "sim/formats/gguf_dequant.h"

namespace sqsim {

namespace {

float half_at(const uint8_t* p) { return fp16_to_float(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

// Q4_K and Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes:
// sub-blocks 0..3 use the low 6 bits of bytes 0..3 (scale) and 4..7 (min);
// sub-blocks 4..7 take their low 4 bits from the nibbles of bytes 8..11 and
// their top 2 bits from the spare top bits of bytes 0..3 (scale) and 4..7 (min).
void scale_min_6bit(const uint8_t* s, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

}  // namespace

// Q2_K (84 bytes): scales[16] (low nibble scale, high nibble min, per 16
// elements), qs[64] (2-bit values), d, dmin. Element i of a 128-element half
// c = i / 128 sits in byte qs[32c + i % 32] at bit 2 * ((i % 128) / 32).
void dequantize_q2_k(const uint8_t* data, size_t blocks, float* out) {
  for (size_t b = 0; b < blocks; ++b, data += 84, out += kKQuantBlock) {
    const uint8_t* scales = data;
    const uint8_t* qs = data + 16;
    const float d = half_at(data + 80);
    const float dmin = half_at(data + 82);
    for (int i = 0; i < 256; ++i) {
      const int sc = scales[i / 16];
      const float dl = d * static_cast<float>(sc & 0x0f);
      const float ml = dmin * static_cast<float>(sc >> 4);
      const int shift = 2 * ((i % 128) / 32);
      const int q = (qs[32 * (i / 128) + i % 32] >> shift) & 3;
      out[i] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q3_K (110 bytes): hmask[32] (third bit), qs[64] (low 2 bits, laid out as
// in Q2_K), scales[12] (sixteen 6-bit scales, offset 32), d. A clear hmask
// bit subtracts 4: values -4..3.
void dequantize_q3_k(const uint8_t* data, size_t blocks, float* out) {
  for (size_t b = 0; b < blocks; ++b, data += 110, out += kKQuantBlock) {
    const uint8_t* hmask = data;
    const uint8_t* qs = data + 32;
    const uint8_t* s = data + 96;
    const float d = half_at(data + 108);
    int scale[16];
    for (int j = 0; j < 16; ++j) {
      const int low = j < 8 ? (s[j] & 0x0f) : (s[j - 8] >> 4);
      const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
      scale[j] = (low | (high << 4)) - 32;
    }
    for (int i = 0; i < 256; ++i) {
      const int half = i / 128;
      const int pair = (i % 128) / 32;  // which 2-bit field of the byte
      const int l = i % 32;
      const int low = (qs[32 * half + l] >> (2 * pair)) & 3;
      const bool high = (hmask[l] >> (4 * half + pair)) & 1;
      const float dl = d * static_cast<float>(scale[i / 16]);
      out[i] = dl * static_cast<float>(low - (high ? 0 : 4));
    }
  }
}

// Q4_K (144 bytes): d, dmin, scales[12] (see scale_min_6bit, one pair per 32
// elements), qs[128]. Each 64 elements share 32 bytes: the first 32 elements
// in the low nibbles, the next 32 in the high nibbles.
void dequantize_q4_k(const uint8_t* data, size_t blocks, float* out) {
  for (size_t b = 0; b < blocks; ++b, data += 144, out += kKQuantBlock) {
    const float d = half_at(data);
    const float dmin = half_at(data + 2);
    const uint8_t* s = data + 4;
    const uint8_t* qs = data + 16;
    for (int j = 0; j < 8; ++j) {  // 32-element sub-block
      int sc, m;
      scale_min_6bit(s, j, &sc, &m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      const uint8_t* q = qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) out[32 * j + l] = dl * static_cast<float>((q[l] >> shift) & 0x0f) - ml;
    }
  }
}

// Q5_K (176 bytes): as Q4_K with qh[32] before qs[128]: bit j of qh[l] is the
// fifth bit of element 32 * j + l.
void dequantize_q5_k(const uint8_t* data, size_t blocks, float* out) {
  for (size_t b = 0; b < blocks; ++b, data += 176, out += kKQuantBlock) {
    const float d = half_at(data);
    const float dmin = half_at(data + 2);
    const uint8_t* s = data + 4;
    const uint8_t* qh = data + 16;
    const uint8_t* qs = data + 48;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      scale_min_6bit(s, j, &sc, &m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      const uint8_t* q = qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0x0f) | (((qh[l] >> j) & 1) << 4);
        out[32 * j + l] = dl * static_cast<float>(v) - ml;
      }
    }
  }
}

// Q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16]
// (int8, per 16 elements), d. Per 128-element half c, element 32k + l
// (k = 0..3) takes the low nibble (k < 2) or high nibble (k >= 2) of
// ql[64c + 32(k % 2) + l] and bits 2k..2k+1 of qh[32c + l]; values -32..31.
void dequantize_q6_k(const uint8_t* data, size_t blocks, float* out) {
  for (size_t b = 0; b < blocks; ++b, data += 210, out += kKQuantBlock) {
    const uint8_t* ql = data;
    const uint8_t* qh = data + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(data + 192);
    const float d = half_at(data + 208);
    for (int i = 0; i < 256; ++i) {
      const int c = i / 128;
      const int k = (i % 128) / 32;
      const int l = i % 32;
      const int low = (ql[64 * c + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0f;
      const int high = (qh[32 * c + l] >> (2 * k)) & 3;
      const float dl = d * static_cast<float>(sc[i / 16]);
      out[i] = dl * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

// Q8_K (292 bytes): d as a float32 (not a half), qs[256] int8, then bsums[16]
// (int16 sums of 16 values each, used only by dot products: ignored here).
void dequantize_q8_k(const uint8_t* data, size_t blocks, float* out) {
  for (size_t b = 0; b < blocks; ++b, data += 292, out += kKQuantBlock) {
    float d;
    std::memcpy(&d, data, 4);  // little-endian host, as the GGUF reader assumes
    for (int i = 0; i < 256; ++i) out[i] = d * static_cast<float>(static_cast<int8_t>(data[4 + i]));
  }
}

}  // namespace sqsim
