#include "sim/formats/safetensors_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

#include "base/error.h"
#include "sim/formats/gguf_dequant.h"
#include "sim/formats/json.h"

namespace sqsim {

namespace {

// A header larger than this is refused before it is read: real checkpoints
// have headers of a few hundred KiB (the safetensors library caps them at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

uint64_t file_size(std::ifstream& in) {
  in.seekg(0, std::ios::end);
  const std::streamoff n = in.tellg();
  in.seekg(0, std::ios::beg);
  return n < 0 ? 0 : uint64_t(n);
}

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

bool is_plain_file_name(const std::string& f) {
  return !f.empty() && f.find('/') == std::string::npos && f.find('\\') == std::string::npos && f != "." &&
         f != "..";
}

}  // namespace

uint64_t SafetensorsTensor::n_elements() const {
  uint64_t n = 1;
  for (const uint64_t d : shape) n *= d;  // overflow ruled out by the header check
  return n;
}

size_t safetensors_dtype_size(const std::string& d) {
  static const std::pair<const char*, size_t> table[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2},  {"U16", 2},
      {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"F64", 8},  {"I64", 8},
      {"U64", 8}};
  for (const auto& [n, s] : table)
    if (d == n) return s;
  return 0;
}

SafetensorsHeader parse_safetensors_header(std::string_view json, uint64_t data_bytes, const std::string& what) {
  const JsonValue root = parse_json(json, what + " (header)");
  if (!root.is_object()) throw Error(what + ": header is a JSON " + json_type_name(root.type) + ", expected an object");
  SafetensorsHeader h;
  for (const auto& [name, v] : root.object) {
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(what + ": __metadata__ must be an object of strings");
      for (const auto& [k, mv] : v.object) {
        if (!mv.is_string()) throw Error(what + ": __metadata__ value \"" + k + "\" is not a string");
        h.metadata[k] = mv.string;
      }
      continue;
    }
    const std::string tw = what + ": tensor " + name;
    if (!v.is_object()) throw Error(tw + ": entry must be an object with dtype, shape, data_offsets");
    for (const auto& kv : v.object)
      if (kv.first != "dtype" && kv.first != "shape" && kv.first != "data_offsets")
        throw Error(tw + ": unknown key \"" + kv.first + "\"");
    SafetensorsTensor t;
    t.name = name;
    t.dtype = json_string(v, "dtype", tw);
    const size_t esize = safetensors_dtype_size(t.dtype);
    if (esize == 0) throw Error(tw + ": unknown dtype \"" + t.dtype + "\"");
    const JsonValue& shape = json_member(v, "shape", tw);
    if (!shape.is_array()) throw Error(tw + ": shape must be an array of integers");
    uint64_t n = 1;
    for (const JsonValue& d : shape.array) {
      if (!d.is_number() || !d.is_int || d.integer < 0)
        throw Error(tw + ": shape entries must be non-negative integers");
      const uint64_t u = uint64_t(d.integer);
      if (u != 0 && n > std::numeric_limits<uint64_t>::max() / esize / u)
        throw Error(tw + ": shape " + "is too large (element count overflows)");
      n *= u;
      t.shape.push_back(u);
    }
    const JsonValue& off = json_member(v, "data_offsets", tw);
    if (!off.is_array() || off.array.size() != 2)
      throw Error(tw + ": data_offsets must be an array [begin, end]");
    for (const JsonValue& o : off.array)
      if (!o.is_number() || !o.is_int || o.integer < 0)
        throw Error(tw + ": data_offsets entries must be non-negative integers");
    t.begin = uint64_t(off.array[0].integer);
    t.end = uint64_t(off.array[1].integer);
    if (t.end < t.begin) throw Error(tw + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] end before begin");
    if (t.end > data_bytes)
      throw Error(tw + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] run past the data region of " +
                  std::to_string(data_bytes) + " bytes (truncated file?)");
    if (t.end - t.begin != n * esize)
      throw Error(tw + ": shape " + shape_text(t.shape) + " of " + t.dtype + " needs " + std::to_string(n * esize) +
                  " bytes, data_offsets give " + std::to_string(t.end - t.begin));
    h.tensors.push_back(std::move(t));
  }
  // The tensors must tile the data region: sorted by offset, each starts where
  // the previous ended (no overlap, no hole), the last ends at the region's end.
  std::vector<const SafetensorsTensor*> by_off;
  for (const auto& t : h.tensors) by_off.push_back(&t);
  std::stable_sort(by_off.begin(), by_off.end(), [](const SafetensorsTensor* a, const SafetensorsTensor* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t at = 0;
  for (size_t i = 0; i < by_off.size(); ++i) {
    const SafetensorsTensor& t = *by_off[i];
    if (t.begin < at)
      throw Error(what + ": tensor " + t.name + " [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ") overlaps tensor " +
                  by_off[i - 1]->name);
    if (t.begin > at)
      throw Error(what + ": bytes [" + std::to_string(at) + ", " + std::to_string(t.begin) + ") of the data region belong to no tensor (before " +
                  t.name + ")");
    at = t.end;
  }
  if (at != data_bytes)
    throw Error(what + ": data region has " + std::to_string(data_bytes) + " bytes but the tensors cover " + std::to_string(at));
  return h;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open safetensors file " + path);
  const uint64_t size = file_size(in);
  if (size < 8) throw Error(path + ": " + std::to_string(size) + " bytes, too short for a safetensors file (8-byte header length)");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > size - 8)
    throw Error(path + ": header length " + std::to_string(n) + " exceeds the " + std::to_string(size - 8) + " bytes after it (truncated file?)");
  if (n > kMaxHeaderBytes) throw Error(path + ": header length " + std::to_string(n) + " exceeds the 100 MiB limit");
  if (n < 2) throw Error(path + ": header length " + std::to_string(n) + " is too short for a JSON object");
  std::string json(n, '\0');
  if (!in.read(json.data(), std::streamsize(n))) throw Error(path + ": cannot read the " + std::to_string(n) + "-byte header");
  // The format allows trailing spaces as padding of the header.
  while (!json.empty() && json.back() == ' ') json.pop_back();
  SafetensorsFile f;
  f.path_ = path;
  f.data_offset_ = 8 + n;
  f.header_ = parse_safetensors_header(json, size - 8 - n, path);
  for (size_t i = 0; i < f.header_.tensors.size(); ++i) f.index_[f.header_.tensors[i].name] = i;
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

MatrixF SafetensorsFile::load(const std::string& name) const {
  const SafetensorsTensor* t = find(name);
  if (!t) throw Error(path_ + ": no tensor named " + name);
  GgmlType type;
  if (t->dtype == "F32") type = GgmlType::F32;
  else if (t->dtype == "F16") type = GgmlType::F16;
  else if (t->dtype == "BF16") type = GgmlType::BF16;
  else throw Error(path_ + ": tensor " + name + " has dtype " + t->dtype + "; only F32, F16 and BF16 are read");
  long rows, cols;
  if (t->shape.size() == 1) {
    rows = 1;
    cols = long(t->shape[0]);
  } else if (t->shape.size() == 2) {
    rows = long(t->shape[0]);
    cols = long(t->shape[1]);
  } else {
    throw Error(path_ + ": tensor " + name + " has shape " + shape_text(t->shape) + "; only 1-D and 2-D are read");
  }
  std::vector<uint8_t> raw(t->end - t->begin);
  std::ifstream in(path_, std::ios::binary);
  in.seekg(std::streamoff(data_offset_ + t->begin));
  if (!in || !in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size())))
    throw Error(path_ + ": cannot read tensor " + name + " (file changed or truncated since it was opened?)");
  MatrixF m(rows, cols);
  dequantize(uint32_t(type), raw.data(), size_t(t->n_elements()), m.data(), path_ + ": tensor " + name);
  return m;
}

std::vector<uint16_t> SafetensorsFile::load_words(const std::string& name) const {
  const SafetensorsTensor* t = find(name);
  if (!t) throw Error(path_ + ": no tensor named " + name);
  if (t->dtype != "F16" && t->dtype != "BF16")
    throw Error(path_ + ": tensor " + name + " has dtype " + t->dtype + ", not a 2-byte float (F16, BF16)");
  std::vector<uint16_t> words(size_t(t->n_elements()));  // the header checked end - begin = 2 n
  std::ifstream in(path_, std::ios::binary);
  in.seekg(std::streamoff(data_offset_ + t->begin));
  // little-endian host, as dequantize's F32 case assumes
  if (!in || !in.read(reinterpret_cast<char*>(words.data()), std::streamsize(2 * words.size())))
    throw Error(path_ + ": cannot read tensor " + name + " (file changed or truncated since it was opened?)");
  return words;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open_dir(const std::string& dir) {
  SafetensorsCheckpoint c;
  c.dir_ = dir;
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (std::ifstream(index_path)) {
    const JsonValue idx = read_json_file(index_path);
    const JsonValue& wm = json_member(idx, "weight_map", index_path);
    if (!wm.is_object()) throw Error(index_path + ": weight_map must be an object {tensor: file}");
    std::map<std::string, size_t> file_no;
    for (const auto& [tensor, fv] : wm.object) {
      if (!fv.is_string() || !is_plain_file_name(fv.string))
        throw Error(index_path + ": weight_map entry for " + tensor + " must name a file in the same folder");
      auto it = file_no.find(fv.string);
      if (it == file_no.end()) {
        c.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(dir + "/" + fv.string)));
        it = file_no.emplace(fv.string, c.files_.size() - 1).first;
      }
      if (!c.files_[it->second]->find(tensor))
        throw Error(index_path + ": weight_map puts tensor " + tensor + " in " + fv.string + ", which does not hold it");
      c.where_[tensor] = it->second;
    }
    return c;
  }
  const std::string single = dir + "/model.safetensors";
  if (!std::ifstream(single))
    throw Error(dir + ": no model.safetensors and no model.safetensors.index.json in the folder");
  c.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(single)));
  for (const auto& t : c.files_[0]->header().tensors) c.where_[t.name] = 0;
  return c;
}

const SafetensorsTensor& SafetensorsCheckpoint::info(const std::string& name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) throw Error(dir_ + ": checkpoint has no tensor " + name);
  return *files_[it->second]->find(name);
}

MatrixF SafetensorsCheckpoint::load(const std::string& name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) throw Error(dir_ + ": checkpoint has no tensor " + name);
  return files_[it->second]->load(name);
}

std::vector<uint16_t> SafetensorsCheckpoint::load_words(const std::string& name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) throw Error(dir_ + ": checkpoint has no tensor " + name);
  return files_[it->second]->load_words(name);
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& kv : where_) out.push_back(kv.first);
  return out;
}

// ---------------------------------------------------------------- writer

uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // quiet NaN
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);                 // nearest even
}

uint16_t float_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to Inf
  const int e = int(a >> 23) - 127;
  if (e >= -14) {  // normal half
    uint32_t h = (uint32_t(e + 15) << 10) | ((a & 0x7fffffu) >> 13);
    const uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
    return uint16_t(sign | h);
  }
  if (e < -25) return uint16_t(sign);
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;  // value = m * 2^(e-23); unit is 2^-24
  const int shift = -(e + 1);                        // 14..24
  uint32_t h = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (h & 1u))) ++h;
  return uint16_t(sign | h);
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsWriteTensor>& tensors,
                       const std::string& dtype, const std::map<std::string, std::string>& metadata) {
  const size_t es = safetensors_dtype_size(dtype);
  if (dtype != "F32" && dtype != "F16" && dtype != "BF16")
    throw Error("write_safetensors " + path + ": dtype " + dtype + " not written (F32, F16, BF16)");
  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      json += (first ? "" : ",") + json_quote(k) + ":" + json_quote(v);
      first = false;
    }
    json += "}";
  }
  std::vector<uint8_t> data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const SafetensorsWriteTensor& t = tensors[i];
    uint64_t n = 1;
    for (const uint64_t d : t.shape) n *= d;
    if (n != t.values.size())
      throw Error("write_safetensors " + path + ": tensor " + t.name + " has " + std::to_string(t.values.size()) +
                  " values for shape " + shape_text(t.shape));
    const uint64_t begin = data.size();
    for (const float v : t.values) {
      uint8_t b[4];
      if (es == 4) {
        std::memcpy(b, &v, 4);
      } else {
        const uint16_t h = dtype == "F16" ? float_to_fp16(v) : float_to_bf16(v);
        b[0] = uint8_t(h & 0xff);
        b[1] = uint8_t(h >> 8);
      }
      data.insert(data.end(), b, b + es);
    }
    std::string shape = "[";
    for (size_t d = 0; d < t.shape.size(); ++d) shape += (d ? "," : "") + std::to_string(t.shape[d]);
    json += std::string(metadata.empty() && i == 0 ? "" : ",") + json_quote(t.name) + ":{\"dtype\":\"" + dtype +
            "\",\"shape\":" + shape + "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
  }
  json += "}";
  while (json.size() % 8 != 0) json += ' ';  // pad so the data region starts aligned, as the library does
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot write " + path);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t((uint64_t(json.size()) >> (8 * i)) & 0xff);
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(json.data(), std::streamsize(json.size()));
  out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
  if (!out) throw Error("cannot write " + path);
}

}  // namespace sqsim
