// The AMX int8 kernel on the real tile instructions. Compiled with -mamx-tile
// -mamx-int8 (and AVX-512, for the epilogue loops; cmake/isa_flags.cmake);
// only called when amx_state().granted (kernels/cpu_features.h), i.e. the CPU
// has AMX, the OS enables the tile state and Linux granted the permission.
// The driver is s8s8_amx_impl.h, the same one s8s8_amx_emulated.cpp runs on the
// tile emulator, so only this file's instruction layer is untested on CPUs
// without AMX.
#include <immintrin.h>

#include "kernels/x86/s8s8_amx_impl.h"

namespace sqsim::kernels::amx {
namespace {

// GCC's tile intrinsics are macros that paste the tile number into the
// instruction text, so each number is spelled out once here.
struct TileOps {
  static void begin(const TileConfig& c) {
    _tile_loadconfig(c.bytes);
    // The tile loads are asm statements without memory operands: keep the
    // compiler from moving earlier stores (the packed operands) past them.
    __asm__ volatile("" ::: "memory");
  }
  static void end() { _tile_release(); }
  template <int T>
  static void zero() {
    static_assert(T >= 0 && T <= 3, "C tiles are 0-3");
    if constexpr (T == 0) _tile_zero(0);
    else if constexpr (T == 1) _tile_zero(1);
    else if constexpr (T == 2) _tile_zero(2);
    else _tile_zero(3);
  }
  template <int T>
  static void load(const void* p, long stride) {
    static_assert(T >= 0 && T <= 7, "C tiles are 0-3 (parked sums), A tiles 4-5, B tiles 6-7");
    if constexpr (T == 0) _tile_loadd(0, p, stride);
    else if constexpr (T == 1) _tile_loadd(1, p, stride);
    else if constexpr (T == 2) _tile_loadd(2, p, stride);
    else if constexpr (T == 3) _tile_loadd(3, p, stride);
    else if constexpr (T == 4) _tile_loadd(4, p, stride);
    else if constexpr (T == 5) _tile_loadd(5, p, stride);
    else if constexpr (T == 6) _tile_loadd(6, p, stride);
    else _tile_loadd(7, p, stride);
  }
  template <int T>
  static void store(void* p, long stride) {
    static_assert(T >= 0 && T <= 3, "C tiles are 0-3");
    if constexpr (T == 0) _tile_stored(0, p, stride);
    else if constexpr (T == 1) _tile_stored(1, p, stride);
    else if constexpr (T == 2) _tile_stored(2, p, stride);
    else _tile_stored(3, p, stride);
    // Nor the C++ reads of the stored accumulators before the store.
    __asm__ volatile("" ::: "memory");
  }
  template <int C, int A, int B>
  static void dp() {
    static_assert(C == 2 * (A - 4) + (B - 6), "C[i][j] = 2i + j, A 4 + i, B 6 + j");
    if constexpr (C == 0) _tile_dpbssd(0, 4, 6);
    else if constexpr (C == 1) _tile_dpbssd(1, 4, 7);
    else if constexpr (C == 2) _tile_dpbssd(2, 5, 6);
    else _tile_dpbssd(3, 5, 7);
  }
};

}  // namespace

void gemm_packed_f32_amx(const ActivationView& a, const PackedBView& b, const EpilogueView& e, float* y,
                         const Blocking& blocking) {
  gemm_packed_f32<TileOps>(a, b, e, y, blocking);
}

void gemm_packed_amx(const ActivationView& a, const PackedBView& b, int32_t* acc, const Blocking& blocking) {
  gemm_packed<TileOps>(a, b, acc, blocking);
}

}  // namespace sqsim::kernels::amx
