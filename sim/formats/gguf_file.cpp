#include "sim/formats/gguf_file.h"

#include <cstring>
#include <fstream>
#include <limits>

#include "base/error.h"
#include "base/paths.h"

namespace sqsim {

namespace {

constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;

// Bounds-checked little-endian cursor over the file bytes.
class Cursor {
 public:
  Cursor(const std::vector<uint8_t>& b, const std::string& path) : b_(b), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return b_.size() - pos_; }

  [[noreturn]] void fail(uint64_t at, const std::string& msg) const {
    throw Error(path_ + ": offset " + std::to_string(at) + ": " + msg);
  }
  void need(uint64_t n, const std::string& what) const {
    if (n > remaining()) {
      fail(pos_, "truncated file: expected " + std::to_string(n) + " bytes of " + what + ", " +
                     std::to_string(remaining()) + " left (file is " + std::to_string(b_.size()) + " bytes)");
    }
  }
  uint64_t uint(int bytes, const std::string& what) {
    need(bytes, what);
    uint64_t v = 0;
    for (int k = 0; k < bytes; ++k) v |= static_cast<uint64_t>(b_[pos_ + k]) << (8 * k);
    pos_ += bytes;
    return v;
  }
  uint32_t u32(const std::string& what) { return static_cast<uint32_t>(uint(4, what)); }
  uint64_t u64(const std::string& what) { return uint(8, what); }
  std::string str(const std::string& what) {
    const uint64_t at = pos_;
    const uint64_t len = u64(what);
    if (len > remaining()) {
      fail(at, what + " length " + std::to_string(len) + " exceeds the " +
                   std::to_string(remaining()) + " bytes left in the file");
    }
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

 private:
  const std::vector<uint8_t>& b_;
  const std::string& path_;
  uint64_t pos_ = 0;
};

// Smallest number of bytes one value of type t takes in the file (for
// checking array counts before allocating).
uint64_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

GgufValue read_value(Cursor& c, GgufValueType type, const std::string& key, int depth) {
  GgufValue v;
  v.type = type;
  const uint64_t at = c.pos();
  const std::string kv = "key " + key + ": ";
  switch (type) {
    case GgufValueType::UINT8: v.u = c.uint(1, kv + "uint8 value"); break;
    case GgufValueType::UINT16: v.u = c.uint(2, kv + "uint16 value"); break;
    case GgufValueType::UINT32: v.u = c.uint(4, kv + "uint32 value"); break;
    case GgufValueType::UINT64: v.u = c.uint(8, kv + "uint64 value"); break;
    case GgufValueType::INT8: v.i = static_cast<int8_t>(c.uint(1, kv + "int8 value")); break;
    case GgufValueType::INT16: v.i = static_cast<int16_t>(c.uint(2, kv + "int16 value")); break;
    case GgufValueType::INT32: v.i = static_cast<int32_t>(c.uint(4, kv + "int32 value")); break;
    case GgufValueType::INT64: v.i = static_cast<int64_t>(c.uint(8, kv + "int64 value")); break;
    case GgufValueType::BOOL: {
      const uint64_t b = c.uint(1, kv + "bool value");
      if (b > 1) c.fail(at, "key " + key + ": bool value " + std::to_string(b) + " (expected 0 or 1)");
      v.i = static_cast<int64_t>(b);
      break;
    }
    case GgufValueType::FLOAT32: {
      const uint32_t bits = static_cast<uint32_t>(c.uint(4, kv + "float32 value"));
      float f;
      std::memcpy(&f, &bits, 4);
      v.f = f;
      break;
    }
    case GgufValueType::FLOAT64: {
      const uint64_t bits = c.uint(8, kv + "float64 value");
      std::memcpy(&v.f, &bits, 8);
      break;
    }
    case GgufValueType::STRING: v.s = c.str(kv + "string value"); break;
    case GgufValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) c.fail(at, "key " + key + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth));
      const uint32_t et = static_cast<uint32_t>(c.uint(4, kv + "array element type"));
      if (et > static_cast<uint32_t>(GgufValueType::FLOAT64)) {
        c.fail(at, "key " + key + ": array element type " + std::to_string(et) + " (expected 0..12)");
      }
      v.elem_type = static_cast<GgufValueType>(et);
      const uint64_t count_at = c.pos();
      const uint64_t count = c.uint(8, kv + "array length");
      const uint64_t min = min_value_bytes(v.elem_type);
      if (count > c.remaining() / min) {
        c.fail(count_at, "key " + key + ": array of " + std::to_string(count) + " " +
                             gguf_value_type_name(v.elem_type) + " values cannot fit in the " +
                             std::to_string(c.remaining()) + " bytes left");
      }
      v.items.reserve(static_cast<size_t>(count));
      for (uint64_t k = 0; k < count; ++k) v.items.push_back(read_value(c, v.elem_type, key, depth + 1));
      break;
    }
  }
  return v;
}

}  // namespace

const char* gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: return "uint8";
    case GgufValueType::INT8: return "int8";
    case GgufValueType::UINT16: return "uint16";
    case GgufValueType::INT16: return "int16";
    case GgufValueType::UINT32: return "uint32";
    case GgufValueType::INT32: return "int32";
    case GgufValueType::FLOAT32: return "float32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::UINT64: return "uint64";
    case GgufValueType::INT64: return "int64";
    case GgufValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::UINT16: case GgufValueType::INT16:
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::UINT64: case GgufValueType::INT64:
      return true;
    default:
      return false;
  }
}

namespace {
bool is_unsigned(GgufValueType t) {
  return t == GgufValueType::UINT8 || t == GgufValueType::UINT16 || t == GgufValueType::UINT32 ||
         t == GgufValueType::UINT64;
}
}  // namespace

GgufFile GgufFile::open(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the GGUF file" + missing_file_hint(path));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error(path + ": cannot determine the file size");
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw Error(path + ": read error after " + std::to_string(in.gcount()) + " of " + std::to_string(size) + " bytes");
  }
  return parse(std::move(bytes), path);
}

GgufFile GgufFile::parse(std::vector<uint8_t> bytes, const std::string& path) {
  GgufFile g;
  g.path_ = path;
  g.bytes_ = std::move(bytes);
  Cursor c(g.bytes_, g.path_);

  c.need(4, "magic");
  if (std::memcmp(g.bytes_.data(), "GGUF", 4) != 0) c.fail(0, "bad magic (expected \"GGUF\"); not a GGUF file");
  c.uint(4, "magic");
  g.version_ = c.u32("version");
  if (g.version_ != 2 && g.version_ != 3) {
    c.fail(4, "GGUF version " + std::to_string(g.version_) + " (expected 2 or 3, little-endian)");
  }
  const uint64_t n_tensors_at = c.pos();
  const uint64_t n_tensors = c.u64("tensor count");
  const uint64_t n_kv_at = c.pos();
  const uint64_t n_kv = c.u64("metadata key/value count");
  // A key/value takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor
  // info at least 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset).
  if (n_kv > c.remaining() / 13) {
    c.fail(n_kv_at, "metadata key/value count " + std::to_string(n_kv) + " cannot fit in the " +
                        std::to_string(c.remaining()) + " bytes left");
  }
  if (n_tensors > c.remaining() / 32) {
    c.fail(n_tensors_at, "tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                             std::to_string(c.remaining()) + " bytes left");
  }

  g.kv_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t at = c.pos();
    std::string key = c.str("metadata key");
    if (g.index_.count(key)) c.fail(at, "duplicate metadata key " + key);
    const uint64_t type_at = c.pos();
    const uint32_t t = c.u32("metadata value type");
    if (t > static_cast<uint32_t>(GgufValueType::FLOAT64)) {
      c.fail(type_at, "key " + key + ": value type " + std::to_string(t) + " (expected 0..12)");
    }
    GgufValue v = read_value(c, static_cast<GgufValueType>(t), key, 0);
    g.index_[key] = g.kv_.size();
    g.kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = g.find("general.alignment")) {
    if (!a->is_integer() || !is_unsigned(a->type) || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > (1u << 30)) {
      throw Error(path + ": key general.alignment: expected an unsigned power of two, got a " +
                  gguf_value_type_name(a->type) + (a->is_integer() ? " " + std::to_string(a->u) : std::string()));
    }
    g.alignment_ = a->u;
  }

  g.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    const uint64_t at = c.pos();
    GgufTensorInfo t;
    t.name = c.str("tensor name");
    const std::string who = "tensor " + t.name;
    if (g.tensor_index_.count(t.name)) c.fail(at, "duplicate " + who);
    const uint64_t nd_at = c.pos();
    const uint32_t n_dims = c.u32("tensor n_dims");
    if (n_dims == 0 || n_dims > kMaxDims) {
      c.fail(nd_at, who + ": " + std::to_string(n_dims) + " dimensions (expected 1.." + std::to_string(kMaxDims) + ")");
    }
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t d_at = c.pos();
      const uint64_t dim = c.u64("tensor dimension");
      if (dim == 0) c.fail(d_at, who + ": dimension " + std::to_string(d) + " is 0 (expected >= 1)");
      if (n > std::numeric_limits<uint64_t>::max() / dim || n * dim > (uint64_t{1} << 62)) {
        c.fail(d_at, who + ": element count overflows (dimension " + std::to_string(d) + " = " + std::to_string(dim) + ")");
      }
      n *= dim;
      t.dims.push_back(dim);
    }
    t.n_elements = n;
    const uint64_t type_at = c.pos();
    t.type = c.u32("tensor type");
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    if (!info) c.fail(type_at, who + ": unknown tensor type " + std::to_string(t.type));
    if (t.dims[0] % info->block_size != 0) {
      c.fail(type_at, who + ": ne0 = " + std::to_string(t.dims[0]) + " is not a multiple of the " + info->name +
                          " block size " + std::to_string(info->block_size));
    }
    t.n_bytes = n / info->block_size * info->block_bytes;
    const uint64_t off_at = c.pos();
    t.offset = c.u64("tensor data offset");
    if (t.offset % g.alignment_ != 0) {
      c.fail(off_at, who + ": data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                         std::to_string(g.alignment_));
    }
    g.tensor_index_[t.name] = g.tensors_.size();
    g.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t end_of_infos = c.pos();
  const uint64_t pad = (g.alignment_ - end_of_infos % g.alignment_) % g.alignment_;
  g.data_offset_ = end_of_infos + pad;
  const uint64_t size = g.bytes_.size();
  if (!g.tensors_.empty() && g.data_offset_ > size) {
    c.fail(end_of_infos, "truncated file: data section should start at offset " + std::to_string(g.data_offset_) +
                             " but the file is " + std::to_string(size) + " bytes");
  }
  const uint64_t data_size = g.data_offset_ <= size ? size - g.data_offset_ : 0;
  for (const GgufTensorInfo& t : g.tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      throw Error(path + ": tensor " + t.name + ": data [" + std::to_string(t.offset) + ", " +
                  std::to_string(t.offset + t.n_bytes) + ") relative to the data section at offset " +
                  std::to_string(g.data_offset_) + " runs past the end of the file (data section is " +
                  std::to_string(data_size) + " bytes; " + t.type_name() + " " + std::to_string(t.n_elements) +
                  " elements need " + std::to_string(t.n_bytes) + ")");
    }
  }
  return g;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) throw Error(path_ + ": missing metadata key " + key);
  return *v;
}

namespace {
[[noreturn]] void wrong_type(const std::string& path, const std::string& key, const GgufValue& v, const char* expected) {
  std::string got = gguf_value_type_name(v.type);
  if (v.type == GgufValueType::ARRAY) got += std::string(" of ") + gguf_value_type_name(v.elem_type);
  throw Error(path + ": metadata key " + key + ": expected " + expected + ", found " + got);
}

int64_t as_int(const std::string& path, const std::string& key, const GgufValue& v) {
  if (!v.is_integer()) wrong_type(path, key, v, "an integer");
  if (is_unsigned(v.type)) {
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw Error(path + ": metadata key " + key + ": value " + std::to_string(v.u) + " does not fit int64");
    }
    return static_cast<int64_t>(v.u);
  }
  return v.i;
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.type != GgufValueType::STRING) wrong_type(path_, key, v, "a string");
  return v.s;
}

int64_t GgufFile::get_int(const std::string& key) const { return as_int(path_, key, get(key)); }

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.is_float()) return v.f;
  if (v.is_integer()) return static_cast<double>(as_int(path_, key, v));
  wrong_type(path_, key, v, "a number");
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.type != GgufValueType::BOOL) wrong_type(path_, key, v, "a bool");
  return v.i != 0;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.type != GgufValueType::ARRAY || v.elem_type != GgufValueType::STRING) wrong_type(path_, key, v, "an array of string");
  std::vector<std::string> out;
  out.reserve(v.items.size());
  for (const GgufValue& e : v.items) out.push_back(e.s);
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& v = get(key);
  GgufValue probe;
  probe.type = v.elem_type;
  if (v.type != GgufValueType::ARRAY || !probe.is_integer()) wrong_type(path_, key, v, "an array of integers");
  std::vector<int64_t> out;
  out.reserve(v.items.size());
  for (const GgufValue& e : v.items) out.push_back(as_int(path_, key, e));
  return out;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) throw Error(path_ + ": no tensor named " + name);
  return *t;
}

MatrixF GgufFile::load_tensor(const std::string& name) const {
  const GgufTensorInfo& t = tensor(name);
  const uint64_t cols = t.dims[0];
  const uint64_t rows = t.n_elements / cols;
  if (rows > static_cast<uint64_t>(std::numeric_limits<Eigen::Index>::max()) ||
      cols > static_cast<uint64_t>(std::numeric_limits<Eigen::Index>::max())) {
    throw Error(path_ + ": tensor " + name + ": too large for a matrix");
  }
  MatrixF m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  dequantize(t.type, tensor_data(t), static_cast<size_t>(t.n_elements), m.data(), path_ + ": tensor " + name);
  // A NaN or Inf weight (or a NaN block scale) would silently poison every
  // output it touches; refuse it here, naming the tensor, row and channel
  // (for a weight [out, in]: row = output channel, channel = input channel).
  require_finite(m, path_ + ": tensor " + name + " (" + t.type_name() + ")");
  return m;
}

int read_positive_int(const GgufFile& g, const std::string& key) {
  const int64_t v = g.get_int(key);  // throws naming the file and key when missing or not an integer
  if (v <= 0 || v > std::numeric_limits<int32_t>::max())
    throw Error(g.path() + ": " + key + " = " + std::to_string(v) + ", expected a positive 32-bit integer");
  return int(v);
}

int read_positive_int(const GgufFile& g, const std::string& key, int fallback) {
  return g.has(key) ? read_positive_int(g, key) : fallback;
}

}  // namespace sqsim
