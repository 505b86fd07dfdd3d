#pragma once
// The AMX tile instructions the int8 kernels use, emulated in plain C++ exactly
// as the ISA defines them (Intel SDM vol. 2: LDTILECFG, TILELOADD, TILESTORED,
// TILEZERO, TILERELEASE, TDPBSSD), on eight 1 KiB tile registers per thread.
// s8s8_amx_emulated.cpp runs the AMX driver (s8s8_amx_impl.h) on it, so the
// packing, tile loop and fused epilogue are tested bit for bit on every CPU;
// only the intrinsic layer (s8s8_amx.cpp) needs AMX hardware.
//
// Where the hardware faults (#UD: no configuration, a palette other than 1,
// shapes that do not fit tdpbssd), the emulator throws std::logic_error: such a
// call is a bug in the driver, which tests must catch.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sqsim::kernels::amx {

class TileEmulator {
 public:
  static constexpr int kTiles = 8, kMaxRows = 16, kMaxColsb = 64;

  // ldtilecfg: palette 0 releases the tiles; palette 1 sets each tile's rows
  // and bytes per row and zeroes all tile data.
  void loadconfig(const uint8_t* cfg) {
    if (cfg[0] == 0) {
      release();
      return;
    }
    if (cfg[0] != 1) fail("ldtilecfg: palette " + std::to_string(cfg[0]) + " (only palette 1 exists)");
    if (cfg[1] != 0) fail("ldtilecfg: start_row must be 0");
    for (int t = 0; t < kTiles; ++t) {
      const int colsb = cfg[16 + 2 * t] | (cfg[17 + 2 * t] << 8), rows = cfg[48 + t];
      if (rows > kMaxRows || colsb > kMaxColsb || (rows == 0) != (colsb == 0)) {
        fail("ldtilecfg: tile " + std::to_string(t) + " of " + std::to_string(rows) + " rows x " +
             std::to_string(colsb) + " bytes");
      }
      tiles_[t].rows = rows;
      tiles_[t].colsb = colsb;
    }
    configured_ = true;
    for (Tile& t : tiles_) std::memset(t.bytes, 0, sizeof(t.bytes));
  }

  // tilerelease: back to the initial state (unconfigured, zero).
  void release() {
    configured_ = false;
    for (Tile& t : tiles_) {
      t.rows = t.colsb = 0;
      std::memset(t.bytes, 0, sizeof(t.bytes));
    }
  }

  void zero(int t) { std::memset(tile(t, "tilezero").bytes, 0, sizeof(Tile::bytes)); }

  // tileloadd: row r gets colsb bytes from base + r * stride; the bytes past
  // colsb and the rows past `rows` become 0.
  void loadd(int t, const void* base, long stride) {
    Tile& d = tile(t, "tileloadd");
    std::memset(d.bytes, 0, sizeof(d.bytes));
    const auto* p = static_cast<const uint8_t*>(base);
    for (int r = 0; r < d.rows; ++r) std::memcpy(d.bytes[r], p + r * stride, static_cast<size_t>(d.colsb));
  }

  // tilestored: row r's colsb bytes to base + r * stride.
  void stored(int t, void* base, long stride) const {
    const Tile& s = tile(t, "tilestored");
    auto* p = static_cast<uint8_t*>(base);
    for (int r = 0; r < s.rows; ++r) std::memcpy(p + r * stride, s.bytes[r], static_cast<size_t>(s.colsb));
  }

  // tdpbssd c, a, b: for each row m of c and dword n of c's row,
  //   c[m].dword[n] += sum over k < a.colsb / 4 of
  //                    sum over i < 4 of sext(a[m].byte[4k + i]) * sext(b[k].byte[4n + i]),
  // the four products of one k added to the accumulator together, all modulo
  // 2^32 (the instruction wraps, it never saturates). Computed in uint32_t so
  // the wraparound is defined C++ (a product sum of one k is at most 4 * 2^14
  // in magnitude, exact in int32).
  void dpbssd(int ci, int ai, int bi) {
    Tile& c = tile(ci, "tdpbssd");
    const Tile& a = tile(ai, "tdpbssd");
    const Tile& b = tile(bi, "tdpbssd");
    if (ci == ai || ci == bi || ai == bi) fail("tdpbssd: the three tiles must differ");
    if (a.colsb % 4 != 0 || a.colsb / 4 != b.rows || c.colsb != b.colsb || c.rows != a.rows || c.colsb % 4 != 0) {
      fail("tdpbssd: shapes do not fit (C " + shape(c) + ", A " + shape(a) + ", B " + shape(b) + ")");
    }
    const int kq = a.colsb / 4, nd = c.colsb / 4;
    for (int m = 0; m < c.rows; ++m) {
      uint32_t acc[kMaxColsb / 4];
      std::memcpy(acc, c.bytes[m], static_cast<size_t>(nd) * 4);
      for (int k = 0; k < kq; ++k) {
        const auto* ak = reinterpret_cast<const int8_t*>(a.bytes[m] + 4 * k);
        const auto* bk = reinterpret_cast<const int8_t*>(b.bytes[k]);
        for (int n = 0; n < nd; ++n) {
          const int32_t dot = int32_t{ak[0]} * bk[4 * n] + int32_t{ak[1]} * bk[4 * n + 1] +
                              int32_t{ak[2]} * bk[4 * n + 2] + int32_t{ak[3]} * bk[4 * n + 3];
          acc[n] += static_cast<uint32_t>(dot);
        }
      }
      std::memcpy(c.bytes[m], acc, static_cast<size_t>(nd) * 4);
      // The bytes past colsb of a written row are zeroed (write_row_and_zero).
      std::memset(c.bytes[m] + c.colsb, 0, static_cast<size_t>(kMaxColsb - c.colsb));
    }
    for (int m = c.rows; m < kMaxRows; ++m) std::memset(c.bytes[m], 0, kMaxColsb);  // zero_upper_rows
  }

  bool configured() const { return configured_; }

 private:
  struct Tile {
    int rows = 0, colsb = 0;
    alignas(64) uint8_t bytes[kMaxRows][kMaxColsb] = {};
  };

  [[noreturn]] static void fail(const std::string& what) { throw std::logic_error("AMX emulator: " + what); }
  static std::string shape(const Tile& t) { return std::to_string(t.rows) + "x" + std::to_string(t.colsb); }

  Tile& tile(int t, const char* op) {
    return const_cast<Tile&>(static_cast<const TileEmulator*>(this)->tile(t, op));
  }
  const Tile& tile(int t, const char* op) const {
    if (!configured_) fail(std::string(op) + ": tiles not configured (ldtilecfg first)");
    if (t < 0 || t >= kTiles) fail(std::string(op) + ": no tile " + std::to_string(t));
    return tiles_[t];
  }

  bool configured_ = false;
  Tile tiles_[kTiles];
};

}  // namespace sqsim::kernels::amx
