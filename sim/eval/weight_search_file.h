#pragma once
// A weight search (GPTQ's codes, AWQ's scales and clips) on disk, so a table
// does not redo it: the exact values (raw little-endian bits) and a `key`
// naming what the search depends on (model and calibration text checksums,
// windows, rows, the configuration's settings). A file made with another key
// is refused, naming the file and the first line of the key that differs.
//
// Layout: "sqsim-weight-search 1\n", then u64 lengths and raw bytes: key,
// method, AWQ groups (prev, prev_is_norm, layers, ratio, smoothquant_form,
// scales, losses), AWQ clips (layer, rows, cols, values), GPTQ layers (name,
// rows, cols, bits, group size, scales, zero points, codes as bytes, loss).
#include <string>

#include "sim/eval/weight_search.h"

namespace sqsim {

std::string weight_search_file_bytes(const std::string& key, const WeightSearchResult& r);

// False when `path` does not exist; true with *out filled when the key
// matches; an error naming the file otherwise (another key, damaged file).
bool read_weight_search_file(const std::string& path, const std::string& key, WeightSearchResult* out);

}  // namespace sqsim
