#pragma once
// GGML tensor element types as GGUF files store them, their block layouts, and
// dequantization to float32. Block formats: docs/gguf.md.
#include <cstddef>
#include <cstdint>
#include <string>

namespace sqsim {

// The type numbers are GGUF's (ggml_type). Only the ones listed here are known
// to the reader; the others are refused by number.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};

struct GgmlTypeInfo {
  const char* name;       // "Q4_1"
  uint32_t block_size;    // elements per block (1 for plain types)
  uint32_t block_bytes;   // bytes per block
  bool dequantizable;     // dequantize() supports it
};

// nullptr for a number that is not a known type.
const GgmlTypeInfo* ggml_type_info(uint32_t type);
// "Q4_1", or "type 123" for an unknown number.
std::string ggml_type_name(uint32_t type);

float fp16_to_float(uint16_t h);
float bf16_to_float(uint16_t h);

// Dequantizes n elements of `type` stored at `data` (n a multiple of the block
// size, data holding n / block_size * block_bytes bytes) into out[0..n).
// Throws sqsim::Error naming `what` for a type it cannot dequantize.
void dequantize(uint32_t type, const uint8_t* data, size_t n, float* out, const std::string& what);

}  // namespace sqsim
