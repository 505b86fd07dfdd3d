#pragma once
// The AVX512_BF16 conversion behind to_bf16 (kernels/bf16.h), on plain types.
// Call only when the CPU has avx512f, avx512bw, avx512vl and avx512bf16.
#include <cstdint>

namespace sqsim::kernels {

// out[i] = bf16_round(in[i]) bit for bit (kernels/bf16.h).
void to_bf16_avx512bf16(const float* in, long n, uint16_t* out);

}  // namespace sqsim::kernels
