// The token NLL's log-sum-exp over one head chunk of SmolLM2 logits (192 rows x
// 49152), one thread, side by side in one process: the serial std::exp sum (the
// definition until 2026-12-07, restated here only to time it), and the
// documented 8-lane order of kernels/log_sum_exp.h on its portable, AVX-512
// and AVX2 paths. Times are per row; a 2048-token window scores 2047 rows.
//   ./build/experiments/benchmarks/nll_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/log_sum_exp.h"
#include "kernels/sgemm.h"

namespace {

constexpr long kRows = 192, kVocab = 49152;

const std::vector<float>& logits() {
  static const std::vector<float> z = [] {
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 3.0f);  // about the spread of SmolLM2's logits
    std::vector<float> v(size_t(kRows * kVocab));
    for (float& x : v) x = d(rng);
    return v;
  }();
  return z;
}

double serial_std_exp(const float* r, long n) {
  double mx = -std::numeric_limits<double>::infinity();
  for (long j = 0; j < n; ++j) mx = std::max(mx, double(r[j]));
  double sum = 0.0;
  for (long j = 0; j < n; ++j) sum += std::exp(double(r[j]) - mx);
  return sum;
}

template <typename F>
void run_rows(benchmark::State& state, F f) {
  const std::vector<float>& z = logits();
  for (auto _ : state) {
    for (long r = 0; r < kRows; ++r) benchmark::DoNotOptimize(f(z.data() + r * kVocab, kVocab));
  }
  state.SetItemsProcessed(state.iterations() * kRows);  // items = rows
}

void BM_SerialStdExp(benchmark::State& s) { run_rows(s, serial_std_exp); }
void BM_MaxExpSumPortable(benchmark::State& s) {
  run_rows(s, [](const float* r, long n) { return sqsim::kernels::max_exp_sum_portable(r, n).sum; });
}
void BM_MaxExpSumAvx512(benchmark::State& s) {
  if (!sqsim::kernels::sgemm_avx512_available()) {
    s.SkipWithError("no AVX-512F on this CPU");
    return;
  }
  run_rows(s, [](const float* r, long n) { return sqsim::kernels::max_exp_sum_avx512(r, n).sum; });
}
void BM_MaxExpSumAvx2(benchmark::State& s) {
  if (!sqsim::kernels::max_exp_sum_avx2_available()) {
    s.SkipWithError("no AVX2 + FMA on this CPU");
    return;
  }
  run_rows(s, [](const float* r, long n) { return sqsim::kernels::max_exp_sum_avx2(r, n).sum; });
}

}  // namespace

BENCHMARK(BM_SerialStdExp)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaxExpSumPortable)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaxExpSumAvx512)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaxExpSumAvx2)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
