#pragma once
// Calibration split over the ranks of an MPI job (docs/mpi.md): each rank runs
// a contiguous share of the windows through its own copy of the float model,
// rank 0 merges the parts in window order, and every rank receives the merged
// statistics, equal bit for bit to a one-process calibrate().
#include <cstdint>
#include <vector>

#include "experiments/ranks.h"
#include "sim/eval/calibration.h"

namespace sqsim::cli {

// Collective: every rank calls it at the same point with the same windows.
// progress runs on rank 0 only, with rank 0's own windows. An error on any
// rank (a NaN input, an interrupt) stops every rank. `sent_bytes`, when given,
// gets on rank 0 the bytes the other ranks sent.
CalibrationStats calibrate_on_ranks(const Ranks& ranks, CausalLm& model,
                                    const std::vector<std::vector<int32_t>>& windows,
                                    const CalibrationOptions& options, size_t* sent_bytes = nullptr);

}  // namespace sqsim::cli
