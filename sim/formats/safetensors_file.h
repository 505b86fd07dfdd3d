#pragma once
// Reader (and a small writer) of safetensors files, the format Hugging Face
// checkpoints use: 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// optional "__metadata__": {str: str}}), then the data region, which the
// tensors' byte ranges must cover exactly (no overlap, no hole). Everything
// is checked against the file size before any tensor is read.
// A sharded checkpoint is a folder with model.safetensors.index.json
// ({"weight_map": {tensor: shard file}}). docs/hf-checkpoints.md.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/tensor.h"

namespace sqsim {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;           // "F32", "F16", "BF16", ...
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range relative to the data region
  uint64_t n_elements() const;
};

struct SafetensorsHeader {
  std::vector<SafetensorsTensor> tensors;  // in header order
  std::map<std::string, std::string> metadata;
};

// Bytes per element of a safetensors dtype name, 0 for a name it does not know.
size_t safetensors_dtype_size(const std::string& dtype);

// Parses and validates a header: `json` is the N header bytes, `data_bytes`
// the size of the data region behind it. `what` names the file in errors.
// This is the fuzzing entry point: it never reads outside `json`.
SafetensorsHeader parse_safetensors_header(std::string_view json, uint64_t data_bytes, const std::string& what);

class SafetensorsFile {
 public:
  // Reads the header and checks it against the file size; tensor data is
  // read on demand.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const SafetensorsTensor* find(const std::string& name) const;  // nullptr when absent
  // F32/F16/BF16 tensor as float32: 1-D [n] -> [1 x n], 2-D [r, c] -> [r x c];
  // other ranks and dtypes are refused naming the tensor.
  MatrixF load(const std::string& name) const;
  // An F16/BF16 tensor's 2-byte words as stored (little-endian host), for
  // weights kept in their checkpoint type; other dtypes refused naming it.
  std::vector<uint16_t> load_words(const std::string& name) const;

 private:
  std::string path_;
  uint64_t data_offset_ = 0;  // 8 + N
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

// Tensors by name across one file (model.safetensors) or the shards of a
// model.safetensors.index.json in `dir`.
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open_dir(const std::string& dir);
  bool has(const std::string& name) const { return where_.count(name) != 0; }
  // Throws naming the checkpoint and the tensor when absent.
  MatrixF load(const std::string& name) const;
  std::vector<uint16_t> load_words(const std::string& name) const;
  const SafetensorsTensor& info(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor -> files_ index
};

// ---- writer (tests build synthetic checkpoints with it) ----
struct SafetensorsWriteTensor {
  std::string name;
  std::vector<uint64_t> shape;
  std::vector<float> values;  // row-major, product(shape) entries
};
// dtype "F32", "F16" or "BF16" (F16/BF16 round to nearest even).
void write_safetensors(const std::string& path, const std::vector<SafetensorsWriteTensor>& tensors,
                       const std::string& dtype, const std::map<std::string, std::string>& metadata = {});

uint16_t float_to_fp16(float f);
uint16_t float_to_bf16(float f);

}  // namespace sqsim
