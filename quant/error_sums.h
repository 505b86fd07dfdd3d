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

// The same sums over a buffer that arrives in pieces (for example row by row,
// each row made just before): the lanes are kept between pieces and element j
// of a piece goes to lane (count + j) % kErrorLanes, so any split gives the
// bits of one error_sums call over the concatenation.
struct ErrorLaneState {
  double lane[5][kErrorLanes] = {};  // ref_sq, app_sq, err_sq, dot, max_abs per lane
  long count = 0;                    // elements added so far
};
// Which sums an add updates; the other lanes are left as they are. Each sum's
// lanes get the same operations in the same order whatever the choice, so a
// sum made by one add equals, bit for bit, the same sum made by another: a
// reference's ref_sq lanes can be made once (kReferenceOnly) and copied into
// the states of several approximations of it (error_sums_take_reference).
enum class ErrorSumsParts {
  kAll,
  kAllButReference,  // app_sq, err_sq, dot, max_abs
  kReferenceOnly,    // ref_sq
  kErrorOnly,        // err_sq: enough, with ref_sq, for rel_err and SQNR
};
void error_sums_add(ErrorLaneState& state, const float* reference, const float* approx, long n,
                    ErrorSumsPath path = ErrorSumsPath::kAuto, ErrorSumsParts parts = ErrorSumsParts::kAll);
// Copies ref_sq's lanes from `reference_state` (made over the same elements,
// in any pieces) into `state`.
void error_sums_take_reference(ErrorLaneState& state, const ErrorLaneState& reference_state);
// Adds the lanes 0 + 1 + ... (max for max_abs).
ErrorSums error_sums_finish(const ErrorLaneState& state);

// The per-ISA builds (quant/error_sums_*.cpp).
void error_sums_add_portable(ErrorLaneState& state, const float* reference, const float* approx, long n,
                             ErrorSumsParts parts);
void error_sums_add_avx2(ErrorLaneState& state, const float* reference, const float* approx, long n,
                         ErrorSumsParts parts);
void error_sums_add_avx512(ErrorLaneState& state, const float* reference, const float* approx, long n,
                           ErrorSumsParts parts);

}  // namespace sqsim
