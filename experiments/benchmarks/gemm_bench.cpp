// int8 x int8 -> int32 GEMM: the scalar reference against the path sqsim
// dispatches to (AVX-512 VNNI where the CPU has it). items_per_second = MACs/s.
// sqsim: weights packed once before timing (activations packed on every call);
// sqsim_with_packing: both operands packed on every call. Wall-clock time (TBB threads).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm_avx512vnni.h"
#include "kernels/gemm_reference.h"

namespace {

using sqsim::kernels::Int8Matrix;

Int8Matrix random_int8(long rows, long cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> code(-128, 127);
  Int8Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.group_size = cols;
  m.codes.resize(static_cast<size_t>(rows) * cols);
  for (auto& c : m.codes) c = static_cast<int8_t>(code(rng));
  m.scale.assign(rows, 0.01f);
  m.layout = {1, 0};
  return m;
}

enum class Path { kReference, kPrepacked, kWithPacking };

template <Path kPath>
void bm_gemm(benchmark::State& state, long m, long k, long n) {
  const Int8Matrix a = random_int8(m, k, 1), b = random_int8(n, k, 2);
  const long g = sqsim::kernels::validate_s8s8(a, b, "bench");
  std::vector<int32_t> acc(static_cast<size_t>(m) * n * (k / g));
  sqsim::kernels::Int8PackedWeights packed;
  if (kPath == Path::kPrepacked) packed = sqsim::kernels::pack_weights_avx512vnni(b, g);
  for (auto _ : state) {
    if (kPath == Path::kReference) {
      sqsim::kernels::gemm_s8s8s32_reference(a, b, g, acc.data());
    } else if (kPath == Path::kPrepacked) {
      sqsim::kernels::gemm_s8s8s32_avx512vnni(a, packed, acc.data());
    } else {
      sqsim::kernels::gemm_s8s8s32_avx512vnni(a, b, g, acc.data());
    }
    benchmark::DoNotOptimize(acc.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * m * k * n);
}

void register_all() {
  const auto& f = sqsim::kernels::cpu_features();
  const bool vnni = f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
  const long ms[] = {1, 16, 128, 512};
  const long kn[][2] = {{576, 576}, {576, 1536}, {1536, 576}};
  for (long m : ms) {
    for (const auto& p : kn) {
      const std::string shape =
          "/M:" + std::to_string(m) + "/K:" + std::to_string(p[0]) + "/N:" + std::to_string(p[1]);
      benchmark::RegisterBenchmark(("gemm_s8s8s32/reference" + shape).c_str(), bm_gemm<Path::kReference>, m,
                                   p[0], p[1])
          ->Unit(benchmark::kMicrosecond);
      if (vnni) {
        benchmark::RegisterBenchmark(("gemm_s8s8s32/sqsim" + shape).c_str(), bm_gemm<Path::kPrepacked>, m, p[0],
                                     p[1])
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("gemm_s8s8s32/sqsim_with_packing" + shape).c_str(),
                                     bm_gemm<Path::kWithPacking>, m, p[0], p[1])
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
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
