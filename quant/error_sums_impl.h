#pragma once
// The body of error_sums (quant/error_sums.h), included by one .cpp per
// instruction set. Internal linkage: each includer gets its own copy compiled
// with its own flags. GCC/Clang vector extensions keep the lanes in registers;
// every operation on them is an element-wise IEEE operation, so the vector
// width of the target does not change a bit (and -ffp-contract=off, set for the
// whole project, keeps the multiply and the add separate).
#include <cmath>
#include <cstring>

#include "quant/error_sums.h"

namespace sqsim {
namespace {

typedef double ErrorLanes __attribute__((vector_size(kErrorLanes * sizeof(double))));
typedef float ErrorFloatLanes __attribute__((vector_size(kErrorLanes * sizeof(float))));
typedef long long ErrorLaneBits __attribute__((vector_size(kErrorLanes * sizeof(double))));

inline ErrorSums error_sums_impl(const float* ref, const float* app, long n) {
  ErrorLanes rs = {}, as = {}, es = {}, ds = {}, mx = {};
  const ErrorLaneBits no_sign = ErrorLaneBits{} + 0x7FFFFFFFFFFFFFFFLL;
  long i = 0;
  for (; i + kErrorLanes <= n; i += kErrorLanes) {
    ErrorFloatLanes fr, fa;
    std::memcpy(&fr, ref + i, sizeof fr);
    std::memcpy(&fa, app + i, sizeof fa);
    const ErrorLanes y = __builtin_convertvector(fr, ErrorLanes), x = __builtin_convertvector(fa, ErrorLanes);
    const ErrorLanes d = x - y;
    rs += y * y;
    as += x * x;
    es += d * d;
    ds += x * y;
    ErrorLaneBits bits;
    std::memcpy(&bits, &d, sizeof d);
    bits &= no_sign;  // |d|, as fabs
    ErrorLanes a;
    std::memcpy(&a, &bits, sizeof a);
    mx = mx < a ? a : mx;
  }
  double r[5][kErrorLanes];
  std::memcpy(r[0], &rs, sizeof rs);
  std::memcpy(r[1], &as, sizeof as);
  std::memcpy(r[2], &es, sizeof es);
  std::memcpy(r[3], &ds, sizeof ds);
  std::memcpy(r[4], &mx, sizeof mx);
  for (int j = 0; i < n; ++i, ++j) {  // the tail, each element in its lane as above
    const double x = app[i], y = ref[i], d = x - y, a = std::fabs(d);
    r[0][j] += y * y;
    r[1][j] += x * x;
    r[2][j] += d * d;
    r[3][j] += x * y;
    r[4][j] = r[4][j] < a ? a : r[4][j];
  }
  ErrorSums s;
  for (int j = 0; j < kErrorLanes; ++j) {
    s.ref_sq += r[0][j];
    s.app_sq += r[1][j];
    s.err_sq += r[2][j];
    s.dot += r[3][j];
    s.max_abs = s.max_abs < r[4][j] ? r[4][j] : s.max_abs;
  }
  return s;
}

}  // namespace
}  // namespace sqsim

// Defines the public entry point NAME (declared in quant/error_sums.h) in the
// including file, so each per-ISA file is one line.
#define SQSIM_DEFINE_ERROR_SUMS(NAME)                                  \
  namespace sqsim {                                                    \
  ErrorSums NAME(const float* reference, const float* approx, long n) { \
    return error_sums_impl(reference, approx, n);                      \
  }                                                                    \
  }
