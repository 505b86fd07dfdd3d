#pragma once
// Builds GGUF files byte by byte for the tests (little-endian).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sqsim_test {

// Little-endian byte writer for building GGUF files by hand.
struct Bytes {
  std::vector<uint8_t> b;
  void u8(uint8_t v) { b.push_back(v); }
  void u16(uint16_t v) { for (int k = 0; k < 2; ++k) b.push_back(static_cast<uint8_t>(v >> (8 * k))); }
  void u32(uint32_t v) { for (int k = 0; k < 4; ++k) b.push_back(static_cast<uint8_t>(v >> (8 * k))); }
  void u64(uint64_t v) { for (int k = 0; k < 8; ++k) b.push_back(static_cast<uint8_t>(v >> (8 * k))); }
  void f32(float f) { uint32_t u; std::memcpy(&u, &f, 4); u32(u); }
  void f64(double f) { uint64_t u; std::memcpy(&u, &f, 8); u64(u); }
  void str(const std::string& s) { u64(s.size()); b.insert(b.end(), s.begin(), s.end()); }
  void pad_to(size_t a) { while (b.size() % a) b.push_back(0); }
};

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type;
  std::vector<uint8_t> data;
};

// Writes a complete file: header, the given metadata bytes (n_kv entries),
// tensor infos with offsets packed at `alignment`, padding, data.
inline std::vector<uint8_t> build(uint32_t version, uint64_t n_kv, const std::vector<uint8_t>& kv,
                           const std::vector<TensorSpec>& tensors, size_t alignment = 32) {
  Bytes f;
  f.b = {'G', 'G', 'U', 'F'};
  f.u32(version);
  f.u64(tensors.size());
  f.u64(n_kv);
  f.b.insert(f.b.end(), kv.begin(), kv.end());
  uint64_t off = 0;
  std::vector<uint64_t> offsets;
  for (const TensorSpec& t : tensors) {
    f.str(t.name);
    f.u32(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) f.u64(d);
    f.u32(t.type);
    f.u64(off);
    offsets.push_back(off);
    off += t.data.size();
    off = (off + alignment - 1) / alignment * alignment;
  }
  f.pad_to(alignment);
  const size_t start = f.b.size();
  for (size_t i = 0; i < tensors.size(); ++i) {
    f.b.resize(start + offsets[i], 0);
    f.b.insert(f.b.end(), tensors[i].data.begin(), tensors[i].data.end());
  }
  return f.b;
}

}  // namespace sqsim_test
