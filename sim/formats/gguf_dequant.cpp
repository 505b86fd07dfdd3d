#include "sim/formats/gguf_dequant.h"

#include <cstring>

#include "base/error.h"
#include "sim/formats/gguf_kquants.h"

namespace sqsim {

namespace {

struct Entry {
  uint32_t number;
  GgmlTypeInfo info;
};

const Entry kTypes[] = {
    {0, {"F32", 1, 4, true}},      {1, {"F16", 1, 2, true}},      {2, {"Q4_0", 32, 18, true}},
    {3, {"Q4_1", 32, 20, true}},   {6, {"Q5_0", 32, 22, true}},   {7, {"Q5_1", 32, 24, true}},
    {8, {"Q8_0", 32, 34, true}},   {9, {"Q8_1", 32, 36, false}},  {10, {"Q2_K", 256, 84, true}},
    {11, {"Q3_K", 256, 110, true}},  {12, {"Q4_K", 256, 144, true}},  {13, {"Q5_K", 256, 176, true}},
    {14, {"Q6_K", 256, 210, true}},  {15, {"Q8_K", 256, 292, true}}, {24, {"I8", 1, 1, false}},
    {25, {"I16", 1, 2, false}},    {26, {"I32", 1, 4, false}},    {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, false}},    {30, {"BF16", 1, 2, true}},
};

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t load_u32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

// Q5_0 / Q5_1: the Q4 nibbles (byte k: elements k and k + 16) plus a 32-bit
// word whose bit j is the fifth bit of element j. Q5_0 centres on 16.
void dequantize_q5(const uint8_t* data, size_t blocks, bool with_min, float* out) {
  const size_t bytes = with_min ? 24 : 22;
  for (size_t b = 0; b < blocks; ++b, data += bytes, out += 32) {
    const float d = fp16_to_float(load_u16(data));
    const float m = with_min ? fp16_to_float(load_u16(data + 2)) : 0.0f;
    const uint8_t* qh_at = data + (with_min ? 4 : 2);
    const uint32_t qh = load_u32(qh_at);
    const uint8_t* qs = qh_at + 4;
    const int offset = with_min ? 0 : 16;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0x0f) | int((qh >> j) & 1) << 4;
      const int hi = (qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
      if (with_min) {
        out[j] = d * static_cast<float>(lo) + m;
        out[j + 16] = d * static_cast<float>(hi) + m;
      } else {
        out[j] = d * static_cast<float>(lo - offset);
        out[j + 16] = d * static_cast<float>(hi - offset);
      }
    }
  }
}

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t type) {
  for (const Entry& e : kTypes)
    if (e.number == type) return &e.info;
  return nullptr;
}

std::string ggml_type_name(uint32_t type) {
  const GgmlTypeInfo* t = ggml_type_info(type);
  return t ? std::string(t->name) : "type " + std::to_string(type);
}

float fp16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // Inf / NaN
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;  // signed zero
    } else {
      // Subnormal half: normalize into a float.
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      mant &= 0x3ffu;
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void dequantize(uint32_t type, const uint8_t* data, size_t n, float* out, const std::string& what) {
  const GgmlTypeInfo* info = ggml_type_info(type);
  if (!info || !info->dequantizable) {
    throw Error(what + ": cannot dequantize tensor type " + ggml_type_name(type) + " (" + std::to_string(type) +
                "); supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K");
  }
  if (n % info->block_size != 0) {
    throw Error(what + ": " + std::to_string(n) + " elements is not a multiple of the " + info->name +
                " block size " + std::to_string(info->block_size));
  }
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32:
      for (size_t i = 0; i < n; ++i) std::memcpy(&out[i], data + 4 * i, 4);  // little-endian host
      return;
    case GgmlType::F16:
      for (size_t i = 0; i < n; ++i) out[i] = fp16_to_float(load_u16(data + 2 * i));
      return;
    case GgmlType::BF16:
      for (size_t i = 0; i < n; ++i) out[i] = bf16_to_float(load_u16(data + 2 * i));
      return;
    case GgmlType::Q8_0:
      for (size_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = data + 34 * b;
        const float d = fp16_to_float(load_u16(blk));
        for (int j = 0; j < 32; ++j) out[32 * b + j] = d * static_cast<float>(static_cast<int8_t>(blk[2 + j]));
      }
      return;
    case GgmlType::Q4_0:
      for (size_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = data + 18 * b;
        const float d = fp16_to_float(load_u16(blk));
        for (int j = 0; j < 16; ++j) {
          out[32 * b + j] = d * static_cast<float>((blk[2 + j] & 0x0f) - 8);
          out[32 * b + j + 16] = d * static_cast<float>((blk[2 + j] >> 4) - 8);
        }
      }
      return;
    case GgmlType::Q4_1:
      for (size_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = data + 20 * b;
        const float d = fp16_to_float(load_u16(blk));
        const float m = fp16_to_float(load_u16(blk + 2));
        for (int j = 0; j < 16; ++j) {
          out[32 * b + j] = d * static_cast<float>(blk[4 + j] & 0x0f) + m;
          out[32 * b + j + 16] = d * static_cast<float>(blk[4 + j] >> 4) + m;
        }
      }
      return;
    case GgmlType::Q5_0:
      dequantize_q5(data, n / 32, false, out);
      return;
    case GgmlType::Q5_1:
      dequantize_q5(data, n / 32, true, out);
      return;
    case GgmlType::Q2_K:
      dequantize_q2_k(data, n / kKQuantBlock, out);
      return;
    case GgmlType::Q3_K:
      dequantize_q3_k(data, n / kKQuantBlock, out);
      return;
    case GgmlType::Q4_K:
      dequantize_q4_k(data, n / kKQuantBlock, out);
      return;
    case GgmlType::Q5_K:
      dequantize_q5_k(data, n / kKQuantBlock, out);
      return;
    case GgmlType::Q6_K:
      dequantize_q6_k(data, n / kKQuantBlock, out);
      return;
    case GgmlType::Q8_K:
      dequantize_q8_k(data, n / kKQuantBlock, out);
      return;
    default:
      break;
  }
  throw Error(what + ": cannot dequantize tensor type " + ggml_type_name(type));
}

}  // namespace sqsim
