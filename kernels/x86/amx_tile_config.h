#pragma once
// The AMX tile configuration the int8 kernels use (palette 1; Intel SDM vol. 1,
// "Intel AMX" and LDTILECFG): a 64-byte block read by ldtilecfg. Byte 0 is the
// palette, byte 1 the start row, bytes 16 + 2t the bytes per row (colsb) of tile
// t as a 16-bit number, byte 48 + t its rows; everything else 0. Plain C++, so
// the real (s8s8_amx.cpp) and the emulated (s8s8_amx_emulated.cpp) tile layers
// load the very same bytes.
#include <cstdint>

namespace sqsim::kernels::amx {

constexpr int kTileRows = 16;    // rows of every tile (palette 1 maximum)
constexpr int kTileColsb = 64;   // bytes per row (palette 1 maximum)
constexpr int kTileK = 64;       // int8 k per A tile row = B tile rows (16) x 4

struct alignas(64) TileConfig {
  uint8_t bytes[64] = {};
};

// All eight tiles 16 rows x 64 bytes: A tiles hold 16 rows x 64 int8 k, B
// tiles 16 k-quads x 16 channels x 4 bytes, C tiles 16 rows x 16 int32.
inline TileConfig full_tiles_config() {
  TileConfig c;
  c.bytes[0] = 1;  // palette 1
  for (int t = 0; t < 8; ++t) {
    c.bytes[16 + 2 * t] = static_cast<uint8_t>(kTileColsb & 0xFF);
    c.bytes[17 + 2 * t] = static_cast<uint8_t>(kTileColsb >> 8);
    c.bytes[48 + t] = kTileRows;
  }
  return c;
}

}  // namespace sqsim::kernels::amx
