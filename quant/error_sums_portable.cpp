// error_sums compiled for plain x86-64 (any CPU).
#include "quant/error_sums_impl.h"

SQSIM_DEFINE_ERROR_SUMS(error_sums_add_portable)
