#pragma once
// Int4 weights laid out for the AVX-512 decode GEMV (kernels/x86/f32s4_avx512.cpp),
// made once by pack_s4_weights so a decode step reads one sequential stream.
//
// Channels are taken in blocks of 16 (the last block padded with zero codes,
// zero points and scales; its padded outputs are never stored). For block b:
//   codes   [k / 16][16 channels][8 bytes]: the channel's 16 codes of that k
//           chunk, exactly its bytes in the row-major Int4Matrix storage;
//   zp_off  [groups][16 channels]: off + zp (off = 8 for signed codes, else 0);
//   scale   [groups][16]: element e is the scale of channel fold_channel(e), the
//           order in which the kernel's fold leaves its sums.
// The same values the row-major kernel transposes per call: the bits do not change.
#include <cstdint>
#include <vector>

#include "kernels/x86/int4_view.h"

namespace sqsim::kernels {

struct Int4GemvView {
  long n = 0, k = 0, group_size = 0;
  bool is_signed = false;
  const uint8_t* codes = nullptr;
  const int32_t* zp_off = nullptr;
  const float* scale = nullptr;
};

struct Int4GemvPack {
  long n = 0, k = 0, group_size = 0;
  bool is_signed = false;
  std::vector<uint8_t> codes;
  std::vector<int32_t> zp_off;
  std::vector<float> scale;
  Int4GemvView view() const { return {n, k, group_size, is_signed, codes.data(), zp_off.data(), scale.data()}; }
};

}  // namespace sqsim::kernels
