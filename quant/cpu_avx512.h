#pragma once
// Whether this CPU can run the quant/ files compiled with AVX-512 flags: every
// flag such a file is compiled with (CMakeLists.txt: the *_avx512.cpp pattern),
// so the compiler may use any of them there.
namespace sqsim {

inline bool cpu_has_avx512_quant_flags() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

}  // namespace sqsim
