#pragma once
// The AMX int8 driver, written once and instantiated for two tile layers
// (kernels/x86/s8s8_amx.h): the real instructions (s8s8_amx.cpp) and the
// emulator (s8s8_amx_emulated.cpp). A tile layer `Ops` provides
//   begin(const TileConfig&) / end()       ldtilecfg / tilerelease
//   zero<T>(), load<T>(p, stride), store<T>(p, stride), dp<C, A, B>()
// with tile numbers as template arguments (the instructions encode them).
// Include only from those two files: everything here has internal linkage.
//
// Tiles: C[i][j] = tile 2i + j (i, j < 2: up to 32 rows x 32 channels of int32
// accumulators), A tiles 4 and 5 (16 rows x 64 k each), B tiles 6 and 7 (64 k x
// 16 channels each). tdpbssd multiplies signed by signed bytes, so the int8
// codes go in unchanged (no +128 shift as with vpdpbusd). Integer addition
// modulo 2^32 is exact and associative and the true sums fit int32
// (validate_s8s8), so the accumulators equal the reference's whatever the tile
// order; the epilogue then runs the reference's float operations per output.
#include <algorithm>
#include <cstdint>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include "kernels/x86/amx_tile_config.h"
#include "kernels/x86/s8s8_amx.h"

namespace sqsim::kernels::amx {
namespace {

// Blocks of 16 rows / 16 channels per task: 64 rows, and at least 64 channels
// (task_col_blocks), so small M still gives several tasks, and each task's B
// tiles are reused by its row pairs.
constexpr long kTaskRowBlocks = 4, kTaskColBlocks = 4;

// One accumulator group of rows [16 mb, 16 (mb + MR)) x channels
// [16 nb, 16 (nb + NR)), 64-k steps [s0, s1) of group g: start the C tiles at
// zero (park == nullptr) or from the parked partial sums of the earlier steps,
// then per step load MR A tiles and NR B tiles and issue MR x NR tdpbssd.
// With prefetch, each step also asks for the B tiles two steps ahead (16 lines
// each), so their loads find them in L1.
template <class Ops, int MR, int NR>
inline void dot_group(const ActivationView& a, const PackedBView& b, long mb, long nb, long g, long s0, long s1,
                      const int32_t (*park)[32], bool prefetch) {
  if (park) {
    constexpr long kStride = 32 * 4;
    Ops::template load<0>(&park[0][0], kStride);
    if constexpr (NR == 2) Ops::template load<1>(&park[0][16], kStride);
    if constexpr (MR == 2) Ops::template load<2>(&park[16][0], kStride);
    if constexpr (MR == 2 && NR == 2) Ops::template load<3>(&park[16][16], kStride);
  } else {
    Ops::template zero<0>();
    if constexpr (NR == 2) Ops::template zero<1>();
    if constexpr (MR == 2) Ops::template zero<2>();
    if constexpr (MR == 2 && NR == 2) Ops::template zero<3>();
  }
  const int8_t* a0 = a.data + mb * 16 * a.stride + g * a.gsp;
  const int8_t* a1 = a0 + 16 * a.stride;
  for (long s = s0; s < s1; ++s) {
    if (prefetch && s + 2 < b.steps) {
      for (int line = 0; line < 16; ++line) {
        __builtin_prefetch(b.tile(nb, g, s + 2) + 64 * line, 0, 3);
        if constexpr (NR == 2) __builtin_prefetch(b.tile(nb + 1, g, s + 2) + 64 * line, 0, 3);
      }
    }
    Ops::template load<4>(a0 + s * kTileK, a.stride);
    if constexpr (MR == 2) Ops::template load<5>(a1 + s * kTileK, a.stride);
    Ops::template load<6>(b.tile(nb, g, s), kTileColsb);
    if constexpr (NR == 2) Ops::template load<7>(b.tile(nb + 1, g, s), kTileColsb);
    Ops::template dp<0, 4, 6>();
    if constexpr (NR == 2) Ops::template dp<1, 4, 7>();
    if constexpr (MR == 2) Ops::template dp<2, 5, 6>();
    if constexpr (MR == 2 && NR == 2) Ops::template dp<3, 5, 7>();
  }
}

// The C tiles to acc[32][32] (row-major, 128-byte rows).
template <class Ops, int MR, int NR>
inline void store_group(int32_t (*acc)[32]) {
  constexpr long kStride = 32 * 4;
  Ops::template store<0>(&acc[0][0], kStride);
  if constexpr (NR == 2) Ops::template store<1>(&acc[0][16], kStride);
  if constexpr (MR == 2) Ops::template store<2>(&acc[16][0], kStride);
  if constexpr (MR == 2 && NR == 2) Ops::template store<3>(&acc[16][16], kStride);
}

// The epilogue of one group on acc[32][32] (the stored C tiles), for all
// NR * 16 channels of the block at once: the loops over channels have a fixed
// trip count, so the compiler vectorizes them (with s8s8_amx.cpp's AVX-512
// flags, 16 floats a register). Lanes past the last valid channel read the
// zero-padded weight scales (b_scale has n_pad = nblocks * 16 columns, and a
// block pair exists only when both blocks do), so they compute harmless
// values that are never written. Rows past `rows` are never read (a_scale
// has only m rows). Every lane runs the reference's operations:
// t = (float(acc) * a_scale) * b_scale, group 0 assigned, later groups added.
template <int NR>
inline void scale_group(const int32_t (&acc)[32][32], long rows, const float* sa_col, long groups, const float* sb,
                        bool first, float (&sum)[32][32]) {
  constexpr int kCols = NR * 16;
  for (long r = 0; r < rows; ++r) {
    const float sa = sa_col[r * groups];
    float* s = sum[r];
    const int32_t* c = acc[r];
    if (first) {
      for (int j = 0; j < kCols; ++j) s[j] = (static_cast<float>(c[j]) * sa) * sb[j];
    } else {
      for (int j = 0; j < kCols; ++j) s[j] = s[j] + (static_cast<float>(c[j]) * sa) * sb[j];
    }
  }
}

// sum (+ bias) to the `rows` x `cols` outputs at y + m0 * n_rows + n0. Full
// blocks take the fixed-width (vectorized) loop; the last channel block of a
// matrix whose N is not a multiple of 16 takes the scalar one.
template <int NR>
inline void write_block(const float (&sum)[32][32], long rows, long cols, const float* bias, float* y, long n_rows) {
  constexpr int kCols = NR * 16;
  for (long r = 0; r < rows; ++r) {
    float* out = y + r * n_rows;
    const float* s = sum[r];
    if (cols == kCols) {
      if (bias) {
        for (int j = 0; j < kCols; ++j) out[j] = s[j] + bias[j];
      } else {
        for (int j = 0; j < kCols; ++j) out[j] = s[j];
      }
    } else {
      for (long j = 0; j < cols; ++j) out[j] = bias ? s[j] + bias[j] : s[j];
    }
  }
}

// The tiles of one task, micro block after micro block (MR x NR tiles, all
// groups each, or one k pass of them: Blocking::k_steps). The epilogue of each (block, group) is deferred until the
// next one's tdpbssd chain has been issued: the tile unit then multiplies
// while the vector units convert and scale the previous accumulators, instead
// of the two taking turns (at K = 576 a 2 x 2 block's 36 tdpbssd take about as
// long as its epilogue). Order per step: dot_group (tiles busy), finish() the
// pending epilogue from acc, store_group into acc. One acc and one sum buffer
// suffice: each is read by finish() before the next store / first group
// overwrites it.
//
// With acc_out: the int32 accumulators, acc_out[(m * n + c) * groups + g].
// Else the fused epilogue, exactly epilogue_reference's operations per output
// (kernels/x86/epilogue.h): t_g = (float(acc_g) * a_scale) * b_scale, the sum
// assigned from group 0 and added left to right, then + bias. Plain C++ with
// -ffp-contract=off (the build's flags): separate, correctly rounded
// multiplies and adds, whether the compiler vectorizes the loops or not.
template <class Ops>
class TaskWalker {
 public:
  TaskWalker(const ActivationView& a, const PackedBView& b, const EpilogueView* e, float* y, int32_t* acc_out,
             bool prefetch)
      : a_(a), b_(b), e_(e), y_(y), acc_out_(acc_out), prefetch_(prefetch) {}

  // Steps [s0, s1) of every group of one MR x NR block: [0, steps) at once,
  // or (one group only) a pass of them, the partial sums parked in slot
  // `slot` between passes. The pass ending at `steps` hands the block to the
  // epilogue.
  template <int MR, int NR>
  void micro(long mb, long nb, long s0, long s1, long slot) {
    const long m0 = mb * 16, n0 = nb * 16;
    const long rows = std::min<long>(MR * 16, a_.m - m0), cols = std::min<long>(NR * 16, b_.n - n0);
    for (long g = 0; g < b_.groups; ++g) {
      dot_group<Ops, MR, NR>(a_, b_, mb, nb, g, s0, s1, s0 == 0 ? nullptr : park_[slot], prefetch_);
      if (s1 < b_.steps) {
        store_group<Ops, MR, NR>(park_[slot]);
        continue;
      }
      finish();
      store_group<Ops, MR, NR>(acc_);
      pending_ = {true, NR, m0, n0, rows, cols, g};
    }
  }

  // The block at (mb, nb), two row blocks / two channel blocks where asked.
  void block(bool two_rows, bool two_cols, long mb, long nb, long s0, long s1, long slot) {
    if (two_rows && two_cols) micro<2, 2>(mb, nb, s0, s1, slot);
    else if (two_rows) micro<2, 1>(mb, nb, s0, s1, slot);
    else if (two_cols) micro<1, 2>(mb, nb, s0, s1, slot);
    else micro<1, 1>(mb, nb, s0, s1, slot);
  }

  // The pending (block, group)'s epilogue; called once more at the task's end.
  void finish() {
    if (!pending_.valid) return;
    pending_.valid = false;
    const Pending& p = pending_;
    const long groups = b_.groups, n_rows = b_.n;
    if (acc_out_) {
      for (long r = 0; r < p.rows; ++r)
        for (long c = 0; c < p.cols; ++c) acc_out_[((p.m0 + r) * n_rows + p.n0 + c) * groups + p.g] = acc_[r][c];
      return;
    }
    const float* sa = e_->a_scale + p.m0 * groups + p.g;
    const float* sb = e_->b_scale + p.g * e_->n_pad + p.n0;
    const float* bias = e_->bias ? e_->bias + p.n0 : nullptr;
    float* y = y_ + p.m0 * n_rows + p.n0;
    const bool last = p.g == groups - 1;
    if (p.nr == 2) {
      scale_group<2>(acc_, p.rows, sa, groups, sb, p.g == 0, sum_);
      if (last) write_block<2>(sum_, p.rows, p.cols, bias, y, n_rows);
    } else {
      scale_group<1>(acc_, p.rows, sa, groups, sb, p.g == 0, sum_);
      if (last) write_block<1>(sum_, p.rows, p.cols, bias, y, n_rows);
    }
  }

 private:
  struct Pending {
    bool valid = false;
    int nr = 1;
    long m0 = 0, n0 = 0, rows = 0, cols = 0, g = 0;
  };
  const ActivationView& a_;
  const PackedBView& b_;
  const EpilogueView* e_;
  float* y_;
  int32_t* acc_out_;
  bool prefetch_;
  Pending pending_;
  alignas(64) int32_t acc_[32][32];
  alignas(64) float sum_[32][32];
  // Partial sums of the blocks of one k pass (Blocking::k_steps), one slot per
  // channel pair of a task (kMaxTaskColBlocks / 2).
  alignas(64) int32_t park_[8][32][32];
};

// Output blocks per task: kTaskRowBlocks x task_col_blocks(...) blocks of 16.
// A task's B block pairs stay in L1/L2 while its row pairs pass over them, and
// each task pays one ldtilecfg / tilerelease and one TBB task, so tasks are as
// wide as the parallelism allows: up to kMaxTaskColBlocks, narrowed (never
// below kTaskColBlocks) until there are >= kTasksPerThread tasks per thread.
// The partition never changes a bit (each output is one micro() call).
constexpr long kMaxTaskColBlocks = 16, kTasksPerThread = 4;

inline long task_col_blocks(long row_tasks, long nblocks) {
  // The arena's size ignores a tbb::global_control limit (--threads): take both.
  const long threads = std::max<long>(
      1, std::min<long>(tbb::this_task_arena::max_concurrency(),
                        static_cast<long>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism))));
  long cb = kMaxTaskColBlocks;
  while (cb > kTaskColBlocks && row_tasks * ((nblocks + cb - 1) / cb) < kTasksPerThread * threads) cb /= 2;
  return cb;
}

// Every output tile, in tasks of kTaskRowBlocks x task_col_blocks() blocks,
// walked in the order `blocking` asks for (kernels/x86/s8s8_amx.h). Each task
// loads the tile configuration on its thread (the tile state is per thread)
// and releases it at the end; tasks own disjoint outputs and each output's
// integer sums are completed by one walker before its epilogue, so the result
// depends neither on the thread count nor on the blocking.
template <class Ops>
void run(const ActivationView& a, const PackedBView& b, const EpilogueView* e, float* y, int32_t* acc_out,
         const Blocking& blocking) {
  if (a.m == 0 || b.n == 0) return;
  static_assert(kMaxTaskColBlocks / 2 <= 8, "TaskWalker::park_ holds one slot per channel pair of a task");
  const TileConfig config = full_tiles_config();
  const long mtasks = (a.row_blocks + kTaskRowBlocks - 1) / kTaskRowBlocks;
  const long col_blocks = task_col_blocks(mtasks, b.nblocks);
  const long ntasks = (b.nblocks + col_blocks - 1) / col_blocks;
  const bool rows_outer = blocking.order == Blocking::Order::kRowsOuter;
  // k passes only for one accumulator group: with several, each block's
  // groups run back to back (their float sums share TaskWalker::sum_).
  // (At least 1, so a pass loop ends; a first pass always runs, even for
  // steps = 0, so every output gets its epilogue.)
  const long pass = std::max<long>(1, rows_outer && blocking.k_steps > 0 && b.groups == 1 ? blocking.k_steps : b.steps);
  tbb::parallel_for(tbb::blocked_range2d<long>(0, mtasks, 1, 0, ntasks, 1), [&](const tbb::blocked_range2d<long>& r) {
    Ops::begin(config);
    TaskWalker<Ops> walk(a, b, e, y, acc_out, blocking.prefetch);
    for (long tm = r.rows().begin(); tm < r.rows().end(); ++tm) {
      for (long tn = r.cols().begin(); tn < r.cols().end(); ++tn) {
        const long mb0 = tm * kTaskRowBlocks, mb_end = std::min(a.row_blocks, mb0 + kTaskRowBlocks);
        const long nb0 = tn * col_blocks, nb_end = std::min(b.nblocks, nb0 + col_blocks);
        if (!rows_outer) {
          for (long nb = nb0; nb < nb_end; nb += 2)
            for (long mb = mb0; mb < mb_end; mb += 2) walk.block(mb + 1 < mb_end, nb + 1 < nb_end, mb, nb, 0, b.steps, 0);
          continue;
        }
        for (long mb = mb0; mb < mb_end; mb += 2) {
          for (long s0 = 0;; s0 += pass) {
            const long s1 = std::min(b.steps, s0 + pass);
            for (long nb = nb0; nb < nb_end; nb += 2)
              walk.block(mb + 1 < mb_end, nb + 1 < nb_end, mb, nb, s0, s1, (nb - nb0) / 2);
            if (s1 >= b.steps) break;
          }
        }
      }
    }
    walk.finish();
    Ops::end();
  });
}

template <class Ops>
void gemm_packed_f32(const ActivationView& a, const PackedBView& b, const EpilogueView& e, float* y,
                     const Blocking& blocking) {
  run<Ops>(a, b, &e, y, nullptr, blocking);
}

template <class Ops>
void gemm_packed(const ActivationView& a, const PackedBView& b, int32_t* acc, const Blocking& blocking) {
  run<Ops>(a, b, nullptr, nullptr, acc, blocking);
}

}  // namespace
}  // namespace sqsim::kernels::amx
