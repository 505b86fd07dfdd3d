#pragma once
// Reader of GGUF model files (versions 2 and 3, little-endian), as llama.cpp
// writes them: header, metadata key/values, tensor infos, aligned data section.
// The whole file is read into memory and every count, length, dimension and
// offset is checked against the file before use; every refusal is a
// sqsim::Error naming the file, the byte offset or key, and what was expected.
// Format summary and block layouts: docs/gguf.md.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "sim/formats/gguf_dequant.h"

namespace sqsim {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* gguf_value_type_name(GgufValueType t);

// One metadata value. Integers are held in `u` (unsigned types) or `i` (signed
// types and bool), floats in `f`, strings in `s`; an array holds its element
// type and its elements in `items` (arrays of arrays are allowed).
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  GgufValueType elem_type = GgufValueType::UINT8;
  std::vector<GgufValue> items;

  bool is_integer() const;  // any of the eight integer types (not bool)
  bool is_float() const { return type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64; }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // GGUF order: dims[0] = ne0 is the fastest-varying (contiguous) one
  uint32_t type = 0;           // ggml type number (GgmlType)
  uint64_t offset = 0;         // relative to the data section start
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  std::string type_name() const { return ggml_type_name(type); }
};

class GgufFile {
 public:
  // Reads and validates the whole file; throws sqsim::Error on any problem.
  static GgufFile open(const std::string& path);
  // Parses a file already in memory; `path` names it in messages.
  static GgufFile parse(std::vector<uint8_t> bytes, const std::string& path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute file offset of the data section

  // Metadata in file order and by key.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  bool has(const std::string& key) const { return index_.count(key) != 0; }
  const GgufValue* find(const std::string& key) const;  // nullptr when absent
  // Typed accessors: throw sqsim::Error naming the file and key when the key is
  // missing or its value has another type (get_int accepts every integer type
  // that fits int64; get_float accepts float32/64 and integers).
  const GgufValue& get(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;  // nullptr when absent
  const GgufTensorInfo& tensor(const std::string& name) const;       // throws when absent

  // Dequantizes tensor `name` to float32 as a row-major matrix with
  // cols = ne0 (dims[0], the contiguous dimension) and rows = ne1 * ne2 * ne3
  // (1 for a 1-D tensor). For a 2-D weight [ne0 = in_features, ne1 =
  // out_features] this is the nn.Linear layout [out, in].
  MatrixF load_tensor(const std::string& name) const;
  // Raw bytes of a tensor inside the data section.
  const uint8_t* tensor_data(const GgufTensorInfo& t) const { return bytes_.data() + data_offset_ + t.offset; }

 private:
  std::string path_;
  std::vector<uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t> index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// A model-config size: a positive integer that fits int32. Throws sqsim::Error
// naming the file and key when the key is missing (the second form returns
// `fallback` then), is not an integer, or is out of range.
int read_positive_int(const GgufFile& g, const std::string& key);
int read_positive_int(const GgufFile& g, const std::string& key, int fallback);

}  // namespace sqsim
