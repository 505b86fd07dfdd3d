#pragma once
// llama.cpp's K-quant super-blocks (256 elements each) decoded to float32.
// The byte layouts and formulas are written out in docs/gguf.md ("K-quants");
// each function decodes `blocks` consecutive blocks from `data` into
// out[0 .. 256 * blocks). Called through dequantize() (gguf_dequant.h), which
// checks sizes and types first.
#include <cstddef>
#include <cstdint>

namespace sqsim {

constexpr size_t kKQuantBlock = 256;

void dequantize_q2_k(const uint8_t* data, size_t blocks, float* out);
void dequantize_q3_k(const uint8_t* data, size_t blocks, float* out);
void dequantize_q4_k(const uint8_t* data, size_t blocks, float* out);
void dequantize_q5_k(const uint8_t* data, size_t blocks, float* out);
void dequantize_q6_k(const uint8_t* data, size_t blocks, float* out);
void dequantize_q8_k(const uint8_t* data, size_t blocks, float* out);

}  // namespace sqsim
