#pragma once
// The float64 sums behind the error metrics (quant/error_metrics.h), over two
// float buffers of n elements. The order of every addition is fixed here, not
// by the compiler or the machine: element i goes to lane i % kErrorLanes, each
// lane adds its elements in index order, and the lanes are added 0 + 1 + ...
// at the end. One chain per sum was latency-bound (~6 cycles an element, a
// fifth of a whole sweep); independent lanes fill vector registers.
//
// The same source (quant/error_sums_impl.h) is compiled once for plain x86-64
// and once each for AVX2 and AVX-512; every build returns the same bits
// (tests/error_metrics_test.cpp compares them), the fastest one the CPU has is
// used.

namespace sqsim {

constexpr int kErrorLanes = 8;

struct ErrorSums {
  double ref_sq = 0;   // sum R^2
  double app_sq = 0;   // sum A^2
  double err_sq = 0;   // sum (A - R)^2
  double dot = 0;      // sum A R
  double max_abs = 0;  // max |A - R| (a NaN difference leaves it as it was)
};

enum class ErrorSumsPath { kAuto, kPortable, kAvx2, kAvx512 };

// Whether this CPU can run `path` (kAuto and kPortable always).
bool error_sums_path_available(ErrorSumsPath path);
ErrorSums error_sums(const float* reference, const float* approx, long n, ErrorSumsPath path = ErrorSumsPath::kAuto);

// The per-ISA builds (quant/error_sums_*.cpp).
ErrorSums error_sums_portable(const float* reference, const float* approx, long n);
ErrorSums error_sums_avx2(const float* reference, const float* approx, long n);
ErrorSums error_sums_avx512(const float* reference, const float* approx, long n);

}  // namespace sqsim
