#pragma once
// Calibration statistics on disk, so a resumed run (sqsim paper-tables
// --resume) does not spend ~13 minutes recalibrating 512 x 512 tokens. The
// file holds the exact floats (raw little-endian IEEE bits), so statistics
// read back are bit-identical to the computed ones, and a `key` string naming
// what they depend on (model and text checksums, window counts): a file made
// with another key is not used.
//
// Layout: "sqsim-calibration 1\n", then u64 lengths and raw bytes:
//   key, layer count, and per layer: name, tokens, channels C,
//   absmax[C], min[C], max[C] (float32), sample rows R, sample cols,
//   sample[R x cols] (float32, row-major).
#include <string>

#include "sim/eval/calibration.h"

namespace sqsim {

std::string calibration_file_bytes(const std::string& key, const CalibrationStats& stats);

// False when `path` does not exist or holds statistics of another key; true
// with *out filled when the key matches. A damaged or truncated file is an
// error naming the file and what was expected.
bool read_calibration_file(const std::string& path, const std::string& key, CalibrationStats* out);
// The same from bytes already read (or sent by another rank); `path` names
// their origin in errors.
bool parse_calibration_bytes(const std::string& bytes, const std::string& path, const std::string& key,
                             CalibrationStats* out);

}  // namespace sqsim
