// error_sums compiled with avx2 flags (CMakeLists.txt); called only when the CPU has avx2 (quant/error_sums.cpp).
#include "quant/error_sums_impl.h"

SQSIM_DEFINE_ERROR_SUMS(error_sums_add_avx2)
