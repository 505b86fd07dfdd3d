#pragma once
// The body of error_sums (quant/error_sums.h), included by one .cpp per
// instruction set. Internal linkage: each includer gets its own copy compiled
// with its own flags. GCC/Clang vector extensions keep the lanes in registers;
// every operation on them is an element-wise IEEE operation, so the vector
// width of the target does not change a bit (and -ffp-contract=off, set for the
// whole project, keeps the multiply and the add separate).
#if defined(__AVX512F__)
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h for the
// unmasked vcvtps2pd (its undefined pass-through operand), as in vecmath_avx512.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "quant/error_sums.h"

namespace sqsim {
namespace {

typedef double ErrorLanes __attribute__((vector_size(kErrorLanes * sizeof(double))));
typedef float ErrorFloatLanes __attribute__((vector_size(kErrorLanes * sizeof(float))));
typedef long long ErrorLaneBits __attribute__((vector_size(kErrorLanes * sizeof(double))));

// float -> double of 8 floats (exact: any instruction gives the same bits).
// With AVX-512, one vcvtps2pd from a 256-bit load: GCC 12 lowers the generic
// conversion to two 128-bit conversions and a vinsertf64x4.
// (Results through references: a 64-byte vector returned by value draws
// GCC's -Wpsabi note in the builds without AVX-512.)
inline void widen(const float* p, ErrorLanes& out) {
#if defined(__AVX512F__)
  const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(p));
  std::memcpy(&out, &v, sizeof out);
#else
  ErrorFloatLanes f;
  std::memcpy(&f, p, sizeof f);
  out = __builtin_convertvector(f, ErrorLanes);
#endif
}

// mx < a ? a : mx, lane by lane (a NaN a leaves mx). With AVX as vmaxpd
// (a, mx), which returns a when a > mx and mx otherwise (NaN, equal): the same
// values. GCC 12 writes the generic form as a compare into a mask and a masked
// move, a longer dependency chain from one step's maximum to the next.
inline void lane_max(ErrorLanes& mx, const ErrorLanes& a) {
#if defined(__AVX512F__)
  __m512d m, v;
  std::memcpy(&m, &mx, sizeof m);
  std::memcpy(&v, &a, sizeof v);
  const __m512d r = _mm512_max_pd(v, m);
  std::memcpy(&mx, &r, sizeof mx);
#elif defined(__AVX__)
  __m256d m[2], v[2];
  std::memcpy(m, &mx, sizeof m);
  std::memcpy(v, &a, sizeof v);
  const __m256d r[2] = {_mm256_max_pd(v[0], m[0]), _mm256_max_pd(v[1], m[1])};
  std::memcpy(&mx, r, sizeof mx);
#else
  mx = mx < a ? a : mx;
#endif
}

// Which sums an instantiation updates (ErrorSumsParts as compile-time flags,
// so each variant's loop does only its own arithmetic).
template <bool kRef, bool kApp, bool kErr, bool kDot, bool kMax>
struct Parts {
  static constexpr bool ref = kRef, app = kApp, err = kErr, dot = kDot, max = kMax;
};

// One element into lane j of the stored lanes, as the vector loop does it.
template <class P>
inline void add_to_lane(ErrorLaneState& st, int j, float ref, float app) {
  const double x = app, y = ref, d = x - y, a = std::fabs(d);
  if (P::ref) st.lane[0][j] += y * y;
  if (P::app) st.lane[1][j] += x * x;
  if (P::err) st.lane[2][j] += d * d;
  if (P::dot) st.lane[3][j] += x * y;
  if (P::max) st.lane[4][j] = st.lane[4][j] < a ? a : st.lane[4][j];
}

template <class P>
inline void error_sums_add_impl(ErrorLaneState& st, const float* ref, const float* app, long n) {
  long i = 0;
  // Up to the next element of lane 0, one at a time.
  for (; i < n && (st.count + i) % kErrorLanes != 0; ++i)
    add_to_lane<P>(st, static_cast<int>((st.count + i) % kErrorLanes), ref[i], app[i]);
  ErrorLanes rs, as, es, ds, mx;
  std::memcpy(&rs, st.lane[0], sizeof rs);
  std::memcpy(&as, st.lane[1], sizeof as);
  std::memcpy(&es, st.lane[2], sizeof es);
  std::memcpy(&ds, st.lane[3], sizeof ds);
  std::memcpy(&mx, st.lane[4], sizeof mx);
  const ErrorLaneBits no_sign = ErrorLaneBits{} + 0x7FFFFFFFFFFFFFFFLL;
  for (; i + kErrorLanes <= n; i += kErrorLanes) {
    ErrorLanes y, x;
    widen(ref + i, y);
    widen(app + i, x);
    const ErrorLanes d = x - y;
    if (P::ref) rs += y * y;
    if (P::app) as += x * x;
    if (P::err) es += d * d;
    if (P::dot) ds += x * y;
    if (P::max) {
      ErrorLaneBits bits;
      std::memcpy(&bits, &d, sizeof d);
      bits &= no_sign;  // |d|, as fabs
      ErrorLanes a;
      std::memcpy(&a, &bits, sizeof a);
      lane_max(mx, a);
    }
  }
  std::memcpy(st.lane[0], &rs, sizeof rs);
  std::memcpy(st.lane[1], &as, sizeof as);
  std::memcpy(st.lane[2], &es, sizeof es);
  std::memcpy(st.lane[3], &ds, sizeof ds);
  std::memcpy(st.lane[4], &mx, sizeof mx);
  for (int j = 0; i < n; ++i, ++j) add_to_lane<P>(st, j, ref[i], app[i]);  // the tail: lanes 0, 1, ...
  st.count += n;
}

inline void error_sums_add_parts(ErrorLaneState& st, const float* ref, const float* app, long n, ErrorSumsParts parts) {
  switch (parts) {
    case ErrorSumsParts::kAll:
      return error_sums_add_impl<Parts<true, true, true, true, true>>(st, ref, app, n);
    case ErrorSumsParts::kAllButReference:
      return error_sums_add_impl<Parts<false, true, true, true, true>>(st, ref, app, n);
    case ErrorSumsParts::kReferenceOnly:
      return error_sums_add_impl<Parts<true, false, false, false, false>>(st, ref, app, n);
    case ErrorSumsParts::kErrorOnly:
      return error_sums_add_impl<Parts<false, false, true, false, false>>(st, ref, app, n);
  }
}

}  // namespace
}  // namespace sqsim

// Defines the public entry point NAME (declared in quant/error_sums.h) in the
// including file, so each per-ISA file is one line.
#define SQSIM_DEFINE_ERROR_SUMS(NAME)                                                                         \
  namespace sqsim {                                                                                           \
  void NAME(ErrorLaneState& state, const float* reference, const float* approx, long n, ErrorSumsParts parts) { \
    error_sums_add_parts(state, reference, approx, n, parts);                                                 \
  }                                                                                                           \
  }
