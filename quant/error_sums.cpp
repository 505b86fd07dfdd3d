#include "quant/error_sums.h"

#include "quant/cpu_avx512.h"
#include "base/error.h"

namespace sqsim {

bool error_sums_path_available(ErrorSumsPath path) {
  switch (path) {
    case ErrorSumsPath::kAuto:
    case ErrorSumsPath::kPortable:
      return true;
    // Every flag its file is compiled with (CMakeLists.txt), so the compiler
    // may use any of them there.
    case ErrorSumsPath::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case ErrorSumsPath::kAvx512:
      return cpu_has_avx512_quant_flags();
  }
  return false;
}

void error_sums_add(ErrorLaneState& state, const float* reference, const float* approx, long n, ErrorSumsPath path,
                    ErrorSumsParts parts) {
  if (path == ErrorSumsPath::kAuto) {
    static const ErrorSumsPath best = error_sums_path_available(ErrorSumsPath::kAvx512) ? ErrorSumsPath::kAvx512
                                      : error_sums_path_available(ErrorSumsPath::kAvx2) ? ErrorSumsPath::kAvx2
                                                                                         : ErrorSumsPath::kPortable;
    path = best;
  }
  if (!error_sums_path_available(path)) throw Error("error_sums: this CPU cannot run the requested path");
  switch (path) {
    case ErrorSumsPath::kAvx512:
      return error_sums_add_avx512(state, reference, approx, n, parts);
    case ErrorSumsPath::kAvx2:
      return error_sums_add_avx2(state, reference, approx, n, parts);
    default:
      return error_sums_add_portable(state, reference, approx, n, parts);
  }
}

void error_sums_take_reference(ErrorLaneState& state, const ErrorLaneState& reference_state) {
  for (int j = 0; j < kErrorLanes; ++j) state.lane[0][j] = reference_state.lane[0][j];
}

ErrorSums error_sums_finish(const ErrorLaneState& state) {
  ErrorSums s;
  for (int j = 0; j < kErrorLanes; ++j) {
    s.ref_sq += state.lane[0][j];
    s.app_sq += state.lane[1][j];
    s.err_sq += state.lane[2][j];
    s.dot += state.lane[3][j];
    s.max_abs = s.max_abs < state.lane[4][j] ? state.lane[4][j] : s.max_abs;
  }
  return s;
}

ErrorSums error_sums(const float* reference, const float* approx, long n, ErrorSumsPath path) {
  ErrorLaneState state;
  error_sums_add(state, reference, approx, n, path);
  return error_sums_finish(state);
}

}  // namespace sqsim
