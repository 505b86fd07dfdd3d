// The AMX int8 path. The tile emulator is checked against hand-computed
// tdpbssd results (sign extension, int32 wraparound, zeroing, the shape checks
// where the hardware faults); the weight packing against the layout's formula;
// then the AMX driver's accumulators against the reference on the emulator
// (every CPU) and on the real tiles (skipped where the CPU or OS lacks AMX).
// The dispatched products run over both in tests/gemm_paths_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/gemm_reference.h"
#include "kernels/kernel_path.h"
#include "kernels/x86/amx_path.h"
#include "kernels/x86/amx_tile_config.h"
#include "kernels/x86/amx_tile_emulator.h"
#include "kernels/x86/pack_tdpbssd.h"
#include "tests/gemm_test_data.h"

namespace sqsim::kernels {
namespace {

using namespace gemm_test;
using amx::TileEmulator;

// Palette 1 with tile t of rows[t] x colsb[t] bytes.
amx::TileConfig config_of(const std::array<int, 8>& rows, const std::array<int, 8>& colsb) {
  amx::TileConfig c;
  c.bytes[0] = 1;
  for (int t = 0; t < 8; ++t) {
    c.bytes[16 + 2 * t] = static_cast<uint8_t>(colsb[t]);
    c.bytes[48 + t] = static_cast<uint8_t>(rows[t]);
  }
  return c;
}

TEST(AmxTileEmulator, DpbssdMatchesHandComputedDotProducts) {
  // C 2 rows x 2 dwords, A 2 rows x 8 bytes (2 k-quads), B 2 rows (k-quads) x 8 bytes (2 columns).
  TileEmulator t;
  t.loadconfig(config_of({2, 2, 2, 0, 0, 0, 0, 0}, {8, 8, 8, 0, 0, 0, 0, 0}).bytes);
  const int8_t a[2][8] = {{1, 2, 3, 4, -1, -2, -3, -4}, {-128, -128, -128, -128, 127, 0, 0, 0}};
  const int8_t b[2][8] = {{1, 1, 1, 1, 2, 0, 0, 0}, {5, 6, 7, 8, -128, -128, -128, -128}};
  t.loadd(1, a, 8);
  t.loadd(2, b, 8);
  t.zero(0);
  t.dpbssd(0, 1, 2);
  int32_t c[2][2];
  t.stored(0, c, 8);
  // Row 0, col 0: (1+2+3+4)*1 + (-1*5 - 2*6 - 3*7 - 4*8) = 10 - 70 = -60.
  // Row 0, col 1: 1*2 + (-1-2-3-4)*(-128) = 2 + 1280 = 1282.
  // Row 1, col 0: -128*4 + 127*5 = -512 + 635 = 123.
  // Row 1, col 1: -128*2 + 127*(-128) = -256 - 16256 = -16512.
  EXPECT_EQ(c[0][0], -60);
  EXPECT_EQ(c[0][1], 1282);
  EXPECT_EQ(c[1][0], 123);
  EXPECT_EQ(c[1][1], -16512);
  // Accumulates onto what C holds.
  t.dpbssd(0, 1, 2);
  t.stored(0, c, 8);
  EXPECT_EQ(c[1][1], -33024);
}

TEST(AmxTileEmulator, DpbssdWrapsModulo2To32AndSignExtends) {
  TileEmulator t;
  t.loadconfig(config_of({1, 1, 1, 0, 0, 0, 0, 0}, {4, 4, 4, 0, 0, 0, 0, 0}).bytes);
  const int32_t start = std::numeric_limits<int32_t>::max();
  const int8_t a[4] = {-128, -128, -128, -128}, b[4] = {-128, -128, -128, -128};
  t.loadd(0, &start, 4);
  t.loadd(1, a, 4);
  t.loadd(2, b, 4);
  t.dpbssd(0, 1, 2);  // + 4 * 16384 = 65536: past INT32_MAX, wraps
  int32_t c = 0;
  t.stored(0, &c, 4);
  EXPECT_EQ(c, static_cast<int32_t>(static_cast<uint32_t>(start) + 65536u));
  EXPECT_LT(c, 0);
}

TEST(AmxTileEmulator, LoadZeroesPastTheConfiguredShapeAndStoresOnlyIt) {
  TileEmulator t;
  t.loadconfig(config_of({2, 0, 0, 0, 0, 0, 0, 0}, {3, 0, 0, 0, 0, 0, 0, 0}).bytes);
  std::vector<uint8_t> src(64 * 16, 0xAB), dst(64 * 16, 0xCD);
  t.loadd(0, src.data(), 64);
  t.stored(0, dst.data(), 64);
  for (int r = 0; r < 16; ++r)
    for (int i = 0; i < 64; ++i) EXPECT_EQ(dst[r * 64 + i], (r < 2 && i < 3) ? 0xAB : 0xCD) << r << " " << i;
  // A wider configuration of the same tile sees the zeroed bytes: ldtilecfg zeroes the data.
  t.loadconfig(config_of({4, 0, 0, 0, 0, 0, 0, 0}, {8, 0, 0, 0, 0, 0, 0, 0}).bytes);
  t.stored(0, dst.data(), 64);
  EXPECT_EQ(dst[0], 0);
  EXPECT_EQ(dst[3 * 64 + 7], 0);
}

TEST(AmxTileEmulator, FaultsWhereTheHardwareWould) {
  TileEmulator t;
  const int8_t buf[1024] = {};
  EXPECT_THROW(t.loadd(0, buf, 64), std::logic_error);  // not configured
  amx::TileConfig bad = amx::full_tiles_config();
  bad.bytes[0] = 2;
  EXPECT_THROW(t.loadconfig(bad.bytes), std::logic_error);
  // C 16 x 64, A 16 x 64 (16 quads), B 8 rows: A's quads != B's rows.
  t.loadconfig(config_of({16, 16, 8, 0, 0, 0, 0, 0}, {64, 64, 64, 0, 0, 0, 0, 0}).bytes);
  EXPECT_THROW(t.dpbssd(0, 1, 2), std::logic_error);
  t.loadconfig(amx::full_tiles_config().bytes);
  EXPECT_NO_THROW(t.dpbssd(0, 4, 6));
  EXPECT_THROW(t.dpbssd(0, 0, 6), std::logic_error);
  t.release();
  EXPECT_THROW(t.dpbssd(0, 4, 6), std::logic_error);
}

TEST(AmxPacking, WeightTilesHoldFourConsecutiveKOfSixteenChannelsPerRow) {
  // N = 19 (two blocks, the second partial), groups of 70 (two 64-k steps, the second partial).
  const Int8Matrix b = make(19, 140, 70, 8, Codes::kRandom, Scales::kPerGroup, 7);
  const amx::PackedB p = amx::pack_b(b, 70);
  const amx::PackedBView v = p.view();
  ASSERT_EQ(v.steps, 2);
  ASSERT_EQ(v.nblocks, 2);
  for (long nb = 0; nb < 2; ++nb)
    for (long g = 0; g < 2; ++g)
      for (long s = 0; s < 2; ++s)
        for (long r = 0; r < 16; ++r)
          for (long j = 0; j < 16; ++j)
            for (long i = 0; i < 4; ++i) {
              const long n = 16 * nb + j, kk = 64 * s + 4 * r + i;
              const int8_t want = (n < 19 && kk < 70) ? b.codes[n * 140 + g * 70 + kk] : 0;
              ASSERT_EQ(v.tile(nb, g, s)[r * 64 + 4 * j + i], want) << nb << " " << g << " " << s << " " << r;
            }
}

struct AccCase {
  long m, k, n, group;
  Codes a, b;
};

void expect_reference_accumulators(AmxTiles tiles, const amx::Blocking& blocking = {}) {
  const std::vector<AccCase> cases = {
      {1, 64, 16, 64, Codes::kRandom, Codes::kRandom},     {3, 100, 7, 100, Codes::kRandom, Codes::kRandom},
      {17, 128, 33, 64, Codes::kRandom, Codes::kRandom},   {33, 200, 40, 20, Codes::kRandom, Codes::kRandom},
      {16, 64, 32, 64, Codes::kMin, Codes::kMin},          {32, 192, 48, 192, Codes::kMin, Codes::kMax},
      {35, 6, 17, 2, Codes::kAlternating, Codes::kMin},    {48, 256, 65, 128, Codes::kRandom, Codes::kRandom},
      {5, 576, 9, 576, Codes::kMax, Codes::kAlternating}};
  uint32_t seed = 300;
  for (const AccCase& c : cases) {
    seed += 2;
    const Int8Matrix a = make(c.m, c.k, c.group, 8, c.a, Scales::kPerRow, seed);
    const Int8Matrix b = make(c.n, c.k, c.group, 8, c.b, Scales::kPerRow, seed + 1);
    const long g = validate_s8s8(a, b, "test");
    const size_t count = static_cast<size_t>(c.m) * c.n * (c.k / g);
    std::vector<int32_t> ref(count, 1), got(count, 2);
    gemm_s8s8s32_reference(a, b, g, ref.data());
    gemm_s8s8s32_amx(a, b, g, tiles, got.data(), blocking);
    ASSERT_EQ(got, ref) << "M=" << c.m << " K=" << c.k << " N=" << c.n << " g=" << g;
  }
}

TEST(AmxDriver, EmulatedTilesGiveTheReferenceAccumulators) { expect_reference_accumulators(AmxTiles::kEmulated); }

TEST(AmxDriver, HardwareTilesGiveTheReferenceAccumulators) {
  const std::vector<KernelPath> paths = available_kernel_paths();
  if (std::find(paths.begin(), paths.end(), KernelPath::kAmx) == paths.end()) {
    GTEST_SKIP() << "AMX not usable here: " << amx_state().detail;
  }
  expect_reference_accumulators(AmxTiles::kHardware);
}

TEST(AmxPacking, NegCompIsMinus128TimesEachGroupsWeightSum) {
  // 19 channels (a padded block), 2 groups of 70 k (padded to 128 in the tiles).
  const Int8Matrix b = make(19, 140, 70, 8, Codes::kRandom, Scales::kPerGroup, 41);
  const amx::PackedB p = amx::pack_b(b, 70);
  ASSERT_EQ(p.neg_comp.size(), static_cast<size_t>(2 * 2 * 16));
  for (long nb = 0; nb < 2; ++nb)
    for (long g = 0; g < 2; ++g)
      for (long j = 0; j < 16; ++j) {
        const long n = 16 * nb + j;
        long sum = 0;
        for (long k = 0; n < 19 && k < 70; ++k) sum += b.codes[n * 140 + g * 70 + k];
        EXPECT_EQ(p.view().neg_comp[(nb * 2 + g) * 16 + j], -128 * sum) << nb << " " << g << " " << j;
      }
}

// The fused products of one AMX kernel (emulated tiles, or the vpdpbusd rows
// kernel that kAmx runs below kAmxMinRows rows) against the reference, bit
// for bit: M across the 16-row tiles and the 4-row register blocks, N across
// the 4-block register blocks and ragged, K across 64-k steps, per-tensor /
// per-row / per-group scales (several accumulator groups), with and without
// bias, int32 extremes, and W4A8.
void expect_reference_products(AmxTiles tiles, const amx::Blocking& blocking = {}) {
  struct Case {
    long m, k, n, group;
    Codes a, b;
    Scales as, bs;
  };
  const std::vector<Case> cases = {
      {1, 576, 1536, 576, Codes::kRandom, Codes::kRandom, Scales::kPerRow, Scales::kPerRow},
      {2, 64, 16, 64, Codes::kRandom, Codes::kRandom, Scales::kPerTensor, Scales::kPerTensor},
      {3, 100, 7, 100, Codes::kRandom, Codes::kRandom, Scales::kPerRow, Scales::kPerRow},
      {5, 256, 81, 64, Codes::kRandom, Codes::kRandom, Scales::kPerGroup, Scales::kPerGroup},
      {7, 192, 64, 192, Codes::kMin, Codes::kMin, Scales::kPerRow, Scales::kPerRow},
      {9, 200, 40, 20, Codes::kAlternating, Codes::kMax, Scales::kPerGroup, Scales::kPerRow},
      {15, 128, 130, 128, Codes::kMax, Codes::kMin, Scales::kPerRow, Scales::kPerTensor},
      {16, 512, 96, 128, Codes::kRandom, Codes::kRandom, Scales::kPerGroup, Scales::kPerGroup},
      {37, 576, 100, 576, Codes::kRandom, Codes::kRandom, Scales::kPerRow, Scales::kPerRow},
      {70, 128, 300, 32, Codes::kRandom, Codes::kRandom, Scales::kPerGroup, Scales::kPerGroup},
      // Several tasks in both directions and one group of 5 steps (k passes).
      {81, 320, 290, 320, Codes::kRandom, Codes::kRandom, Scales::kPerRow, Scales::kPerRow}};
  uint32_t seed = 700;
  for (const Case& c : cases) {
    seed += 3;
    const Int8Matrix a = make(c.m, c.k, c.group, 8, c.a, c.as, seed);
    const Int8Matrix b = make(c.n, c.k, c.group, 8, c.b, c.bs, seed + 1);
    std::vector<float> bias(c.n);
    for (long i = 0; i < c.n; ++i) bias[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
    const std::string what = "M=" + std::to_string(c.m) + " K=" + std::to_string(c.k) + " N=" +
                             std::to_string(c.n) + " g=" + std::to_string(c.group);
    for (const float* bp : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
      ASSERT_TRUE(same_bits(linear_s8s8_amx(a, b, bp, tiles, blocking), linear_s8s8_reference(a, b, bp)))
          << what << (bp ? " bias" : "");
    }
    const Int4Matrix b4 = make_int4(c.n, c.k, c.group, false, 4, 0, seed + 2);
    ASSERT_TRUE(same_bits(linear_s8s4_amx(a, b4, bias.data(), tiles, blocking),
                          linear_s8s4_reference(a, b4, bias.data())))
        << "W4A8 " << what;
  }
}

TEST(AmxDriver, EmulatedTilesGiveTheReferenceProducts) { expect_reference_products(AmxTiles::kEmulated); }

// Every walk over the tiles (amx::Blocking): B pairs outer (the first
// kernel's order), A pairs outer with the whole k per block, and A pairs
// outer in k passes of 1, 2 or 3 steps, so C tiles are parked and reloaded
// (passes that end mid-group and a last, shorter pass), with and without the
// B prefetch. Each must give the reference's accumulators and products.
std::vector<amx::Blocking> blockings_under_test() {
  using Order = amx::Blocking::Order;
  return {{Order::kColumnsOuter, 0, false}, {Order::kColumnsOuter, 2, true}, {Order::kRowsOuter, 0, false},
          {Order::kRowsOuter, 1, false},    {Order::kRowsOuter, 2, true},    {Order::kRowsOuter, 3, false}};
}

std::string blocking_name(const amx::Blocking& b) {
  return std::string(b.order == amx::Blocking::Order::kRowsOuter ? "rows" : "columns") + " outer, k_steps " +
         std::to_string(b.k_steps) + (b.prefetch ? ", prefetch" : "");
}

TEST(AmxDriver, EveryBlockingGivesTheReferenceOnEmulatedTiles) {
  for (const amx::Blocking& b : blockings_under_test()) {
    SCOPED_TRACE(blocking_name(b));
    expect_reference_accumulators(AmxTiles::kEmulated, b);
    expect_reference_products(AmxTiles::kEmulated, b);
  }
}

TEST(AmxDriver, EveryBlockingGivesTheReferenceOnHardwareTiles) {
  const std::vector<KernelPath> paths = available_kernel_paths();
  if (std::find(paths.begin(), paths.end(), KernelPath::kAmx) == paths.end()) {
    GTEST_SKIP() << "AMX not usable here: " << amx_state().detail;
  }
  for (const amx::Blocking& b : blockings_under_test()) {
    SCOPED_TRACE(blocking_name(b));
    expect_reference_accumulators(AmxTiles::kHardwareTiles, b);
    expect_reference_products(AmxTiles::kHardwareTiles, b);
  }
}

TEST(AmxDriver, RowsKernelGivesTheReferenceProducts) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni)) GTEST_SKIP() << "the CPU lacks AVX-512 VNNI";
  expect_reference_products(AmxTiles::kRowsVnni);
}

TEST(AmxDriver, HardwareKernelsGiveTheReferenceProducts) {
  const std::vector<KernelPath> paths = available_kernel_paths();
  if (std::find(paths.begin(), paths.end(), KernelPath::kAmx) == paths.end()) {
    GTEST_SKIP() << "AMX not usable here: " << amx_state().detail;
  }
  expect_reference_products(AmxTiles::kHardwareTiles);
  expect_reference_products(AmxTiles::kHardware);
}

TEST(AmxDispatch, NamesAutoOrderAndRefusal) {
  EXPECT_EQ(parse_kernel_path("amx"), KernelPath::kAmx);
  EXPECT_EQ(parse_kernel_path("amx-emulated"), KernelPath::kAmxEmulated);
  EXPECT_EQ(kernel_path_name(KernelPath::kAmx), "amx");
  const std::vector<KernelPath> paths = available_kernel_paths();
  // The emulator is never offered, never picked by auto, and always accepted when forced.
  EXPECT_EQ(std::find(paths.begin(), paths.end(), KernelPath::kAmxEmulated), paths.end());
  EXPECT_EQ(resolve_kernel_path(KernelPath::kAmxEmulated), KernelPath::kAmxEmulated);
  const std::vector<KernelPath> tested = tested_kernel_paths();
  EXPECT_EQ(tested.back(), KernelPath::kAmxEmulated);
  const bool amx = std::find(paths.begin(), paths.end(), KernelPath::kAmx) != paths.end();
  EXPECT_EQ(amx, amx_state().granted && cpu_features().avx512vnni);
  const bool auto_default = default_kernel_path() == KernelPath::kAuto;  // SQSIM_KERNEL unset
  if (amx) {
    if (auto_default) {
      EXPECT_EQ(resolve_kernel_path(KernelPath::kAuto), KernelPath::kAmx);
    }
  } else {
    // A forced AMX path fails with one line saying why.
    try {
      resolve_kernel_path(KernelPath::kAmx);
      FAIL() << "kAmx resolved without AMX";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("kernel 'amx'"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_FALSE(amx_state().detail.empty());
    }
    if (auto_default) {
      EXPECT_NE(resolve_kernel_path(KernelPath::kAuto), KernelPath::kAmx);
    }
  }
  // The state is asked once: the same object every time.
  EXPECT_EQ(&amx_state(), &amx_state());
}

}  // namespace
}  // namespace sqsim::kernels
