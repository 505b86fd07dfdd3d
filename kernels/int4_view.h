#pragma once
// Int4 weights as the W4A16 kernels read them, straight from an Int4Matrix's
// storage (kernels/int_weights.h). Plain types only, for files compiled with
// instruction-set flags.
#include <cstdint>

namespace sqsim::kernels {

struct Int4View {
  long n = 0, k = 0, group_size = 0;
  bool is_signed = false;
  const uint8_t* packed = nullptr;      // [n][k/2], element 2i in the low nibble of byte i
  const float* scale = nullptr;         // [n][k/group_size]
  const int32_t* zero_point = nullptr;  // [n][k/group_size]
};

}  // namespace sqsim::kernels
