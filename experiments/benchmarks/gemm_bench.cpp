// GEMM benchmarks: sqsim's kernels side by side with oneDNN and with the
// machine's ceilings, in one process. Names: <operation>/<implementation>/<shape>/threads:<T>.
//
//  gemm_s8s8s32/{sqsim,sqsim_avx2,onednn,reference}  int8 x int8 -> int32 accumulators, weights prepacked
//  linear_s8s8_f32/{sqsim,onednn}                     the same with scales and bias -> float (oneDNN: u8 x s8)
//  linear_s8s8_f32/{sqsim,sqsim_unfused,sqsim_avx2}/.../wg:<G>  M = 512, weights per-channel or group G: the
//                                                     fused epilogue vs. accumulator buffer + scalar epilogue
//  gemm_f32/onednn                                    fp32 GEMM baseline (weights prepacked)
//  linear_f32s4/sqsim/.../g:<G>                       W4A16, int4 weights dequantized in the kernel
//  linear_f32s4/sqsim_{rows,panel}/.../g:128          the same with one W4A16 kernel forced (rows: decode GEMV,
//                                                     panel: many rows); _avx2_ likewise for the AVX2 path
//  linear_bf16s4/{sqsim,sqsim_avx2}/.../g:128         W4A16 on bfloat16 activations (widened in the AVX-512
//                                                     kernels, first in AVX2), beside linear_f32s4 rows
//  gemm_f32/sqsim                                     sqsim's fp32 sgemm (kernels/sgemm.h), weights packed once
//  peak/vpdpbusd{,_ymm}, peak/stream_read             one core's 512-bit (256-bit) vpdpbusd rate;
//                                                     streaming-read bandwidth
//  peak/tdpbssd                                       one core's AMX tdpbssd rate on register tiles
//  linear_s8s8_f32/{sqsim_amx,sqsim_vnni}             the int8 product forced onto the AMX path / AVX-512
//                                                     VNNI, beside linear_s8s8_f32/onednn (AMX machines)
//  linear_s8s8_f32/{sqsim_amx_tiles,sqsim_amx_rows}   M <= 16 (and M 2/4/8/12): the AMX path's two kernels
//                                                     forced, tdpbssd tiles / vpdpbusd on the tile packing
//                                                     (the kAmxMinRows threshold), beside sqsim_amx (dispatched)
//  linear_s8s8_f32/amx_walk_<name>                    M >= 16: the tile kernel under each amx::Blocking
//                                                     (cols / rows outer, k passes _k<S>, B prefetch _pf)
// The AMX rows are registered only where the CPU and OS allow tiles
// (kernels::amx_state()); elsewhere they are absent and the log says why.
//
// items_per_second = multiply-accumulates per second (M*K*N per iteration);
// bytes_per_second (M = 1 rows) = weight bytes read per second. At M = 1 the
// weights are cold: each iteration uses the next of several copies that
// together exceed the 32 MiB L3. threads:1 rows are timed in CPU time of the
// calling thread (robust to other load), threads:2 rows in wall-clock time.
#include <benchmark/benchmark.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/x86/aligned_vector.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/x86/pack_pmaddwd.h"
#include "kernels/x86/avx512_path.h"
#include "kernels/x86/avx2_path.h"
#include "kernels/x86/amx_path.h"
#include "kernels/gemm_reference.h"
#include "kernels/sgemm.h"
#include "machine_peaks.h"

#ifdef SQSIM_HAVE_ONEDNN
#include <omp.h>

#include <dnnl.hpp>
#endif

namespace {

using namespace sqsim::kernels;
using sqsim::MatrixF;

constexpr size_t kColdBytes = 96u << 20;  // weight memory rotated over at M = 1 (L3 is 32 MiB)

Int8Matrix random_int8(long rows, long cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> code(-128, 127);
  Int8Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.group_size = cols;
  m.codes.resize(static_cast<size_t>(rows) * cols);
  for (auto& c : m.codes) c = static_cast<int8_t>(code(rng));
  std::uniform_real_distribution<float> sd(1e-3f, 1e-2f);
  m.scale.resize(rows);
  for (float& s : m.scale) s = sd(rng);
  m.layout = {1, 0};
  return m;
}

Int4Matrix random_int4(long rows, long cols, long group_size, uint32_t seed) {
  std::mt19937 rng(seed);
  Int4Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.group_size = group_size;
  m.packed.resize(static_cast<size_t>(rows) * cols / 2);
  for (auto& b : m.packed) b = static_cast<uint8_t>(rng());
  m.scale.assign(static_cast<size_t>(rows) * m.groups(), 0.01f);
  m.zero_point.assign(static_cast<size_t>(rows) * m.groups(), 8);
  return m;
}

MatrixF random_f32(long rows, long cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  MatrixF x(rows, cols);
  for (long i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
  return x;
}

// How many weight copies an iteration cycles through: enough to leave the L3 at M = 1.
long copies_for(long m, size_t bytes) {
  if (m != 1) return 1;
  return std::max<long>(1, static_cast<long>((kColdBytes + bytes - 1) / bytes));
}

void finish(benchmark::State& state, long m, long k, long n, size_t weight_bytes) {
  state.SetItemsProcessed(state.iterations() * m * k * n);
  if (m == 1) state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(weight_bytes));
}

enum class Impl { kSqsim, kSqsimAvx2, kReference };

void bm_s8s8s32(benchmark::State& state, Impl impl, long m, long k, long n, int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const Int8Matrix a = random_int8(m, k, 1);
  const long copies = impl == Impl::kReference ? 1 : copies_for(m, static_cast<size_t>(k) * n);
  std::vector<Int8Matrix> b;
  std::vector<PackedS8Weights> vnni;
  std::vector<avx2::PackedB> av2;
  const Int8Matrix b0 = random_int8(n, k, 2);  // copies share the bytes, not the addresses
  for (long c = 0; c < copies; ++c) {
    b.push_back(b0);
    if (impl == Impl::kSqsim) vnni.push_back(pack_s8_weights(b.back(), KernelPath::kAvx512Vnni));
    if (impl == Impl::kSqsimAvx2) av2.push_back(avx2::pack_b(b.back(), k));
    if (impl != Impl::kReference) b.back() = Int8Matrix{};  // keep only the packed copy resident
  }
  // Cache-line aligned, like oneDNN's buffers: a 64-byte store into a plain
  // large std::vector (16 bytes past a page start) writes two cache lines.
  CacheLineVector<int32_t> acc(static_cast<size_t>(m) * n);
  long i = 0;
  for (auto _ : state) {
    const long c = i++ % copies;
    if (impl == Impl::kSqsim) gemm_s8s8s32_avx512vnni(a, vnni[c].vnni, acc.data());
    if (impl == Impl::kSqsimAvx2) gemm_s8s8s32_avx2(a, av2[c], acc.data());
    if (impl == Impl::kReference) gemm_s8s8s32_reference(a, b[0], k, acc.data());
    benchmark::DoNotOptimize(acc.data());
    benchmark::ClobberMemory();
  }
  finish(state, m, k, n, static_cast<size_t>(k) * n);
}

// Scales and bias -> float on weights packed once for `path`. wgroup 0: per-channel
// weight scales, else per-group scales of wgroup columns (activations per-token).
// unfused: the pre-fusion pipeline for comparison in the same process -- the
// VNNI kernel writes the int32 accumulator buffer, then the scalar reference
// epilogue turns it into floats.
void bm_linear_s8s8(benchmark::State& state, KernelPath path, bool unfused, long m, long k, long n, long wgroup,
                    int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const Int8Matrix a = random_int8(m, k, 1);
  const long copies = copies_for(m, static_cast<size_t>(k) * n);
  std::vector<PackedS8Weights> w;
  Int8Matrix b0 = random_int8(n, k, 2);
  if (wgroup > 0) {
    b0.group_size = wgroup;
    b0.layout = {k / wgroup, 1};
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> sd(1e-3f, 1e-2f);
    b0.scale.resize(static_cast<size_t>(n) * (k / wgroup));
    for (float& s : b0.scale) s = sd(rng);
  }
  for (long c = 0; c < copies; ++c) w.push_back(pack_s8_weights(b0, path));
  const std::vector<float> bias(n, 0.5f);
  const long g = validate_s8s8(a, b0, "bench");
  std::vector<int32_t> acc(unfused ? static_cast<size_t>(m) * n * (k / g) : 0);
  long i = 0;
  for (auto _ : state) {
    const PackedS8Weights& wc = w[i++ % copies];
    if (unfused) {
      MatrixF y(m, n);
      gemm_s8s8s32_avx512vnni(a, wc.vnni, acc.data());
      epilogue_reference(scales_of(a), scales_of(b0), m, n, k, g, acc.data(), bias.data(), y.data());
      benchmark::DoNotOptimize(y.data());
    } else {
      MatrixF y = linear_s8s8(a, wc, bias.data());
      benchmark::DoNotOptimize(y.data());
    }
  }
  finish(state, m, k, n, static_cast<size_t>(k) * n);
}

// One of the AMX path's two int8 kernels forced for every M, weights packed
// once in the tile layout: kHardwareTiles (tdpbssd) or kRowsVnni (vpdpbusd on
// the same packing), per-channel scales and bias as bm_linear_s8s8. The
// dispatched kAmx call picks the rows kernel below kAmxMinRows rows; these
// rows measure where the tiles start to win.
void run_linear_amx(benchmark::State& state, AmxTiles tiles, const amx::Blocking& blocking, long m, long k, long n,
                    int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const Int8Matrix a = random_int8(m, k, 1);
  const long copies = copies_for(m, static_cast<size_t>(k) * n);
  const Int8Matrix b0 = random_int8(n, k, 2);
  std::vector<Int8AmxWeights> w;
  for (long c = 0; c < copies; ++c) w.push_back(pack_weights_amx(b0, k));
  const std::vector<float> bias(n, 0.5f);
  MatrixF y(m, n);
  long i = 0;
  for (auto _ : state) {
    linear_amx(a, w[i++ % copies], scales_of(b0), bias.data(), tiles, y.data(), blocking);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  finish(state, m, k, n, static_cast<size_t>(k) * n);
}

void bm_linear_amx(benchmark::State& state, AmxTiles tiles, long m, long k, long n, int threads) {
  run_linear_amx(state, tiles, {}, m, k, n, threads);
}

// The tile kernel under one walk over the tiles (amx::Blocking).
void bm_amx_walk(benchmark::State& state, amx::Blocking blocking, long m, long k, long n, int threads) {
  run_linear_amx(state, AmxTiles::kHardwareTiles, blocking, m, k, n, threads);
}

// kernel kAuto: the dispatched call on prepacked weights (what the model runs);
// kRows / kPanel: that W4A16 kernel of the path forced whatever M is.
void bm_f32s4(benchmark::State& state, KernelPath path, W4A16Kernel kernel, long m, long k, long n, long group,
              int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const MatrixF x = random_f32(m, k, 1);
  const size_t bytes = static_cast<size_t>(k) * n / 2;
  const long copies = copies_for(m, bytes);
  std::vector<PackedS4Weights> w;
  std::vector<Int4Matrix> raw;
  const Int4Matrix b0 = random_int4(n, k, group, 2);
  for (long c = 0; c < copies; ++c) {
    if (kernel == W4A16Kernel::kAuto) w.push_back(pack_s4_weights(b0, path, S4Use::kW4A16));
    else raw.push_back(b0);
  }
  long i = 0;
  for (auto _ : state) {
    const long c = i++ % copies;
    MatrixF y = kernel == W4A16Kernel::kAuto   ? linear_f32s4(x, w[c], nullptr)
                : path == KernelPath::kAvx2    ? linear_f32s4_avx2(x, raw[c], nullptr, kernel)
                                               : linear_f32s4_avx512(x, raw[c], nullptr, kernel);
    benchmark::DoNotOptimize(y.data());
  }
  finish(state, m, k, n, bytes);
}

// The dispatched W4A16 call on bfloat16 activations, weights prepacked (as bm_f32s4 with kAuto).
void bm_bf16s4(benchmark::State& state, KernelPath path, long m, long k, long n, long group, int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const Bf16Matrix x = to_bf16(random_f32(m, k, 1));
  const size_t bytes = static_cast<size_t>(k) * n / 2;
  const long copies = copies_for(m, bytes);
  const Int4Matrix b0 = random_int4(n, k, group, 2);
  std::vector<PackedS4Weights> w;
  for (long c = 0; c < copies; ++c) w.push_back(pack_s4_weights(b0, path, S4Use::kW4A16));
  long i = 0;
  for (auto _ : state) {
    MatrixF y = linear_bf16s4(x, w[i++ % copies], nullptr);
    benchmark::DoNotOptimize(y.data());
  }
  finish(state, m, k, n, bytes);
}

// sqsim's own fp32 GEMM (kernels/sgemm.h, FMA), weights [N, K] packed once: the
// float baseline the W4A16 kernels are compared with.
void bm_sgemm(benchmark::State& state, long m, long k, long n, int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const MatrixF x = random_f32(m, k, 1), w = random_f32(n, k, 2);
  const sqsim::kernels::PackedB packed = sqsim::kernels::pack_b(w.data(), k, BLayout::kNK, n, k);
  MatrixF y(m, n);
  SgemmArgs g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = x.data();
  g.lda = k;
  g.b = w.data();
  g.ldb = k;
  g.layout = BLayout::kNK;
  g.c = y.data();
  g.ldc = n;
  for (auto _ : state) {
    sgemm_parallel(g, packed.empty() ? nullptr : &packed);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  finish(state, m, k, n, static_cast<size_t>(k) * n * 4);
}

// width 512 or 256 bits: 64 or 32 u8 x s8 MACs per vpdpbusd.
void bm_vpdpbusd(benchmark::State& state, int width) {
  const long iterations = 1 << 20;
  for (auto _ : state) {
    benchmark::DoNotOptimize(width == 512 ? bench::vpdpbusd_loop(iterations) : bench::vpdpbusd_ymm_loop(iterations));
  }
  state.SetItemsProcessed(state.iterations() * iterations * bench::kVpdpbusdChains * (width / 8));  // MACs
}

void bm_tdpbssd(benchmark::State& state) {
  const long iterations = 1 << 16;
  for (auto _ : state) benchmark::DoNotOptimize(bench::tdpbssd_loop(iterations));
  state.SetItemsProcessed(state.iterations() * iterations * bench::kTdpbssdChains * bench::kTdpbssdMacs);  // MACs
}

void bm_stream_read(benchmark::State& state, int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const size_t bytes = 512u << 20;
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)), &std::free);
  for (size_t i = 0; i < bytes; i += 4096) buf.get()[i] = static_cast<uint8_t>(i >> 12);  // touch every page
  const size_t chunk = bytes / static_cast<size_t>(threads);
  for (auto _ : state) {
    std::vector<uint64_t> sums(threads);
    tbb::parallel_for(0, threads, [&](int t) { sums[t] = bench::stream_read(buf.get() + t * chunk, chunk); });
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}

#ifdef SQSIM_HAVE_ONEDNN
// oneDNN matmul Y[M,N] = X[M,K] W[K,N] with W given as our [N, K] rows
// (format ba) and reordered once into the layout oneDNN prefers.
struct OnednnMatmul {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::matmul prim;
  dnnl::memory src, dst, bias;
  std::vector<dnnl::memory> weights;

  OnednnMatmul(long m, long k, long n, dnnl::memory::data_type src_t, dnnl::memory::data_type wei_t,
               dnnl::memory::data_type dst_t, bool scales_and_bias, long copies) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dnnl::memory::desc src_md({m, k}, src_t, tag::ab), dst_md({m, n}, dst_t, tag::ab);
    const dnnl::memory::desc wei_any({k, n}, wei_t, tag::any), wei_user({k, n}, wei_t, tag::ba);
    const dnnl::memory::desc bias_md({1, n}, dt::f32, tag::ab);
    dnnl::primitive_attr attr;
    if (scales_and_bias) attr.set_output_scales(2, std::vector<float>(n, 1e-4f));  // per output channel
    const auto desc = scales_and_bias ? dnnl::matmul::desc(src_md, wei_any, bias_md, dst_md)
                                      : dnnl::matmul::desc(src_md, wei_any, dst_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, eng);
    prim = dnnl::matmul(pd);
    src = dnnl::memory(pd.src_desc(), eng);
    dst = dnnl::memory(pd.dst_desc(), eng);
    bias = dnnl::memory(bias_md, eng);
    fill(src, 1);
    fill(bias, 2);
    dnnl::memory user(wei_user, eng);
    fill(user, 3);  // copies share the bytes, not the addresses
    for (long c = 0; c < copies; ++c) {
      dnnl::memory packed(pd.weights_desc(), eng);
      dnnl::reorder(user, packed).execute(strm, user, packed);
      weights.push_back(packed);
    }
    strm.wait();
  }
  static void fill(dnnl::memory& mem, uint32_t seed) {
    std::mt19937 rng(seed);
    const size_t bytes = mem.get_desc().get_size();
    auto* p = static_cast<uint8_t*>(mem.get_data_handle());
    const bool is_float = mem.get_desc().data_type() == dnnl::memory::data_type::f32;
    if (is_float) {
      std::normal_distribution<float> nd(0.0f, 1.0f);
      for (size_t i = 0; i < bytes / 4; ++i) reinterpret_cast<float*>(p)[i] = nd(rng);
    } else {
      for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(rng());
    }
  }
  void run(long copy, bool with_bias) {
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights[copy]}, {DNNL_ARG_DST, dst}};
    if (with_bias) args[DNNL_ARG_BIAS] = bias;
    prim.execute(strm, args);
    strm.wait();
  }
};

enum class OnednnOp { kS8S8S32, kU8S8F32, kF32 };

void bm_onednn(benchmark::State& state, OnednnOp op, long m, long k, long n, int threads) {
  using dt = dnnl::memory::data_type;
  omp_set_num_threads(threads);
  const dt src_t = op == OnednnOp::kF32 ? dt::f32 : op == OnednnOp::kU8S8F32 ? dt::u8 : dt::s8;
  const dt wei_t = op == OnednnOp::kF32 ? dt::f32 : dt::s8;
  const dt dst_t = op == OnednnOp::kS8S8S32 ? dt::s32 : dt::f32;
  const size_t bytes = static_cast<size_t>(k) * n * (op == OnednnOp::kF32 ? 4 : 1);
  const long copies = copies_for(m, bytes);
  try {
    OnednnMatmul mm(m, k, n, src_t, wei_t, dst_t, op == OnednnOp::kU8S8F32, copies);
    long i = 0;
    for (auto _ : state) mm.run(i++ % copies, op == OnednnOp::kU8S8F32);
  } catch (const dnnl::error& e) {
    state.SkipWithError(e.what());
    return;
  }
  finish(state, m, k, n, bytes);
}
#endif

std::string shape_name(long m, long k, long n) {
  return "/M:" + std::to_string(m) + "/K:" + std::to_string(k) + "/N:" + std::to_string(n);
}

template <class... Args>
void add(const std::string& name, int threads, Args&&... args) {
  auto* b = benchmark::RegisterBenchmark((name + "/threads:" + std::to_string(threads)).c_str(),
                                         std::forward<Args>(args)..., threads);
  b->Unit(benchmark::kMicrosecond);
  // One thread runs on the calling thread (TBB and OpenMP alike), so its CPU
  // time is the honest measure on a shared machine; with 2 threads only wall
  // time covers the workers.
  if (threads > 1) b->UseRealTime();
}

void register_all() {
  const CpuFeatures& f = cpu_features();
  const bool vnni = f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
  const bool avx2 = f.avx2 && f.fma;
  const long ms[] = {1, 16, 128, 512, 2048};
  const long kn[][2] = {{576, 576}, {576, 1536}, {1536, 576}, {4096, 4096}, {4096, 11008}};
  const std::vector<KernelPath> paths = available_kernel_paths();
  const bool amx = std::find(paths.begin(), paths.end(), KernelPath::kAmx) != paths.end();
  if (amx) benchmark::RegisterBenchmark("peak/tdpbssd/threads:1", bm_tdpbssd)->Unit(benchmark::kMillisecond);
  else std::fprintf(stderr, "gemm_bench: no AMX rows: %s\n", amx_state().detail.c_str());
  // The kAmxMinRows threshold: tiles vs. vpdpbusd on the tile packing vs. the
  // VNNI path at the M between 1 and 16, one thread, on the model's shapes.
  for (long m : {2L, 4L, 8L, 12L}) {
    for (const auto& p : {std::array<long, 2>{576, 1536}, std::array<long, 2>{1536, 576},
                          std::array<long, 2>{4096, 4096}}) {
      const std::string s = shape_name(m, p[0], p[1]);
      if (amx) add("linear_s8s8_f32/sqsim_amx_tiles" + s, 1, bm_linear_amx, AmxTiles::kHardwareTiles, m, p[0], p[1]);
      if (vnni) add("linear_s8s8_f32/sqsim_amx_rows" + s, 1, bm_linear_amx, AmxTiles::kRowsVnni, m, p[0], p[1]);
      if (amx) add("linear_s8s8_f32/sqsim_amx" + s, 1, bm_linear_s8s8, KernelPath::kAmx, false, m, p[0], p[1], 0L);
      if (amx) add("linear_s8s8_f32/sqsim_vnni" + s, 1, bm_linear_s8s8, KernelPath::kAvx512Vnni, false, m, p[0], p[1], 0L);
#ifdef SQSIM_HAVE_ONEDNN
      if (amx) add("linear_s8s8_f32/onednn" + s, 1, bm_onednn, OnednnOp::kU8S8F32, m, p[0], p[1]);
#endif
    }
  }
  // The walks over the tiles (amx::Blocking), one thread, tile kernel forced.
  using Order = amx::Blocking::Order;
  const std::pair<const char*, amx::Blocking> walks[] = {
      {"cols", {Order::kColumnsOuter, 0, false}}, {"cols_pf", {Order::kColumnsOuter, 0, true}},
      {"rows", {Order::kRowsOuter, 0, false}},    {"rows_pf", {Order::kRowsOuter, 0, true}},
      {"rows_k4", {Order::kRowsOuter, 4, false}}, {"rows_k8", {Order::kRowsOuter, 8, false}},
      {"rows_k8_pf", {Order::kRowsOuter, 8, true}}};
  for (long m : ms) {
    for (const auto& p : kn) {
      if (!amx || m < 16) continue;
      for (const auto& w : walks) {
        add(std::string("linear_s8s8_f32/amx_walk_") + w.first + shape_name(m, p[0], p[1]), 1, bm_amx_walk, w.second,
            m, p[0], p[1]);
      }
    }
  }
  if (vnni) {
    benchmark::RegisterBenchmark("peak/vpdpbusd/threads:1", bm_vpdpbusd, 512)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("peak/vpdpbusd_ymm/threads:1", bm_vpdpbusd, 256)->Unit(benchmark::kMillisecond);
    for (int t : {1, 2}) add("peak/stream_read", t, bm_stream_read);
  }
  for (int t : {1, 2}) {
    for (long m : ms) {
      for (const auto& p : kn) {
        const long k = p[0], n = p[1];
        const std::string s = shape_name(m, k, n);
        if (vnni) add("gemm_s8s8s32/sqsim" + s, t, bm_s8s8s32, Impl::kSqsim, m, k, n);
        if (avx2) add("gemm_s8s8s32/sqsim_avx2" + s, t, bm_s8s8s32, Impl::kSqsimAvx2, m, k, n);
        if (m * k * n <= 16L * 576 * 1536 && t == 1) {
          add("gemm_s8s8s32/reference" + s, t, bm_s8s8s32, Impl::kReference, m, k, n);
        }
#ifdef SQSIM_HAVE_ONEDNN
        add("gemm_s8s8s32/onednn" + s, t, bm_onednn, OnednnOp::kS8S8S32, m, k, n);
        add("linear_s8s8_f32/onednn" + s, t, bm_onednn, OnednnOp::kU8S8F32, m, k, n);
        add("gemm_f32/onednn" + s, t, bm_onednn, OnednnOp::kF32, m, k, n);
#endif
        add("linear_s8s8_f32/sqsim" + s, t, bm_linear_s8s8, KernelPath::kAuto, false, m, k, n, 0L);
        if (amx) add("linear_s8s8_f32/sqsim_amx" + s, t, bm_linear_s8s8, KernelPath::kAmx, false, m, k, n, 0L);
        if (amx) add("linear_s8s8_f32/sqsim_vnni" + s, t, bm_linear_s8s8, KernelPath::kAvx512Vnni, false, m, k, n, 0L);
        if (amx && m <= 16) add("linear_s8s8_f32/sqsim_amx_tiles" + s, t, bm_linear_amx, AmxTiles::kHardwareTiles, m, k, n);
        if (vnni && m <= 16) add("linear_s8s8_f32/sqsim_amx_rows" + s, t, bm_linear_amx, AmxTiles::kRowsVnni, m, k, n);
        // W4A16: decode (M = 1, 16) for every group size; prefill-sized M (128,
        // 2048) on the SmolLM2 MLP shapes, with each kernel forced (rows: the
        // decode kernel, panel: the many-row one) and sqsim's fp32 sgemm beside them.
        const bool prefill = (m == 128 || m == 2048) && k != n && k + n == 576 + 1536;
        if (m <= 16 || prefill) {
          for (long g : {64L, 128L, 256L}) {
            const std::string sg = s + "/g:" + std::to_string(g);
            const W4A16Kernel automatic = W4A16Kernel::kAuto;
            if (vnni) add("linear_f32s4/sqsim" + sg, t, bm_f32s4, KernelPath::kAvx512Vnni, automatic, m, k, n, g);
            if (avx2) add("linear_f32s4/sqsim_avx2" + sg, t, bm_f32s4, KernelPath::kAvx2, automatic, m, k, n, g);
            if (g != 128) continue;
            for (W4A16Kernel kern : {W4A16Kernel::kRows, W4A16Kernel::kPanel}) {
              const std::string kname = kern == W4A16Kernel::kRows ? "rows" : "panel";
              if (vnni) add("linear_f32s4/sqsim_" + kname + sg, t, bm_f32s4, KernelPath::kAvx512Vnni, kern, m, k, n, g);
              if (avx2) add("linear_f32s4/sqsim_avx2_" + kname + sg, t, bm_f32s4, KernelPath::kAvx2, kern, m, k, n, g);
            }
          }
        }
        // bf16 activations on the 4096 x 4096 layer, with the float rows of the
        // same shapes (M = 128 is not among the decode rows above).
        if ((m == 1 || m == 16 || m == 128) && k == 4096 && n == 4096) {
          const std::string sg = s + "/g:128";
          const W4A16Kernel automatic = W4A16Kernel::kAuto;
          if (m == 128 && vnni) add("linear_f32s4/sqsim" + sg, t, bm_f32s4, KernelPath::kAvx512Vnni, automatic, m, k, n, 128L);
          if (m == 128 && avx2) add("linear_f32s4/sqsim_avx2" + sg, t, bm_f32s4, KernelPath::kAvx2, automatic, m, k, n, 128L);
          if (vnni) add("linear_bf16s4/sqsim" + sg, t, bm_bf16s4, KernelPath::kAvx512Vnni, m, k, n, 128L);
          if (avx2) add("linear_bf16s4/sqsim_avx2" + sg, t, bm_bf16s4, KernelPath::kAvx2, m, k, n, 128L);
        }
        if (m >= 16) add("gemm_f32/sqsim" + s, t, bm_sgemm, m, k, n);
        // The fused epilogue on the SmolLM2 shapes the sweep runs (M = 512):
        // per-channel and group32/64 weights, beside the unfused pipeline.
        if (m == 512 && k + n <= 576 + 1536) {
          for (long wg : {0L, 32L, 64L}) {
            const std::string sg = s + "/wg:" + (wg ? std::to_string(wg) : std::string("channel"));
            if (vnni) add("linear_s8s8_f32/sqsim" + sg, t, bm_linear_s8s8, KernelPath::kAvx512Vnni, false, m, k, n, wg);
            if (vnni) add("linear_s8s8_f32/sqsim_unfused" + sg, t, bm_linear_s8s8, KernelPath::kAvx512Vnni, true, m, k, n, wg);
            if (avx2) add("linear_s8s8_f32/sqsim_avx2" + sg, t, bm_linear_s8s8, KernelPath::kAvx2, false, m, k, n, wg);
          }
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
