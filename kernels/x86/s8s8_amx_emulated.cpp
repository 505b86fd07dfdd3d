// The AMX int8 driver (s8s8_amx_impl.h) on the tile emulator
// (amx_tile_emulator.h): portable C++, no instruction-set flags, runs on every
// CPU. Dispatched as KernelPath::kAmxEmulated, which the tests run everywhere.
#include "kernels/x86/amx_tile_emulator.h"
#include "kernels/x86/s8s8_amx_impl.h"

namespace sqsim::kernels::amx {
namespace {

// Each thread has its own eight tiles, as each hardware thread does.
struct EmulatedTileOps {
  static TileEmulator& tiles() {
    thread_local TileEmulator t;
    return t;
  }
  static void begin(const TileConfig& c) { tiles().loadconfig(c.bytes); }
  static void end() { tiles().release(); }
  template <int T>
  static void zero() { tiles().zero(T); }
  template <int T>
  static void load(const void* p, long stride) { tiles().loadd(T, p, stride); }
  template <int T>
  static void store(void* p, long stride) { tiles().stored(T, p, stride); }
  template <int C, int A, int B>
  static void dp() { tiles().dpbssd(C, A, B); }
};

}  // namespace

void gemm_packed_f32_amx_emulated(const ActivationView& a, const PackedBView& b, const EpilogueView& e, float* y,
                                  const Blocking& blocking) {
  gemm_packed_f32<EmulatedTileOps>(a, b, e, y, blocking);
}

void gemm_packed_amx_emulated(const ActivationView& a, const PackedBView& b, int32_t* acc,
                              const Blocking& blocking) {
  gemm_packed<EmulatedTileOps>(a, b, acc, blocking);
}

}  // namespace sqsim::kernels::amx
