#pragma once
// The inner loop of quantize (quant/quantize.cpp) for nearest-even rounding:
// one row, as runs of `run` columns that each share one quantization parameter
// (run j uses parameter [j]), or, per column, a parameter per column ([c]).
// Two builds: the portable one (quantize_row_portable.cpp) states the
// definition; the AVX-512 one (quantize_row_avx512.cpp) computes the same codes
// and values with 16-lane instructions. Tests compare them bit for bit.
#include <cstdint>

namespace sqsim {

struct QuantizeRow {
  const float* x = nullptr;            // n values
  long n = 0;
  long run = 0;                        // columns per parameter (ignored per column)
  const float* scale = nullptr;        // per run (or per column)
  const float* multiplier = nullptr;   // reciprocal rule only, indexed like scale
  const int32_t* zero_point = nullptr; // indexed like scale
  int lo = 0, hi = 0;                  // code range
  bool per_column = false, reciprocal = false, symmetric = true;
  int16_t* codes = nullptr;            // n codes out
  float* dequantized = nullptr;        // optional: n dequantized values out
};

void quantize_row_nearest_portable(const QuantizeRow& r);
void quantize_row_nearest_avx512(const QuantizeRow& r);  // only where the CPU has AVX-512 F/BW/VL/DQ

// The AVX-512 build where the CPU has it, else the portable one (chosen once).
void quantize_row_nearest(const QuantizeRow& r);

}  // namespace sqsim
