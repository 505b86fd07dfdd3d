#pragma once
// B for kernels/sgemm.h packed from rows that the caller makes on demand: a
// layer that keeps its weight in a 2-byte checkpoint type (bf16, fp16) widens
// it one panel of rows at a time into a small buffer, so the whole [N, K]
// float32 copy never exists beside the packed one (docs/memory.md). The
// packed result is the same floats, in the same layout, as pack_b of the
// widened matrix, so every product has pack_b's bits.
#include <functional>

#include "kernels/sgemm.h"

namespace sqsim::kernels {

// Writes rows [row0, row0 + rows) of B [N, K] (kNK layout), row-major with
// row stride K, into out. Called from several threads at once, each with its
// own rows and buffer.
using BRowSource = std::function<void(long row0, long rows, float* out)>;

// pack_b(B, K, kNK, n, k) without B: empty (nothing called) where the CPU
// takes the portable path, as pack_b is.
PackedB pack_b_from_rows(long n, long k, const BRowSource& rows);

}  // namespace sqsim::kernels
