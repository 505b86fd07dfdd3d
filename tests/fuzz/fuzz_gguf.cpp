// libFuzzer harness: arbitrary bytes as a GGUF file. Parses it, reads every
// metadata value through the typed getters, dequantizes every tensor and
// builds the tokenizer when the metadata has one. Any sqsim::Error is a
// correct refusal; a crash, sanitizer report, leak or other exception is a bug.
#include <cstdint>
#include <memory>
#include <vector>

#include "base/error.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/llama_model.h"
#include "sim/tokenizer/gguf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sqsim::Error;
  sqsim::GgufFile g;
  try {
    g = sqsim::GgufFile::parse(std::vector<uint8_t>(data, data + size), "fuzz.gguf");
  } catch (const Error&) {
    return 0;
  }
  for (const auto& kv : g.metadata()) {
    const std::string& key = kv.first;
    // Each getter either returns or refuses the type; both are fine.
    try { g.get_int(key); } catch (const Error&) {}
    try { g.get_float(key); } catch (const Error&) {}
    try { g.get_string(key); } catch (const Error&) {}
    try { g.get_bool(key); } catch (const Error&) {}
    try { g.get_string_array(key); } catch (const Error&) {}
    try { g.get_int_array(key); } catch (const Error&) {}
  }
  for (const sqsim::GgufTensorInfo& t : g.tensors()) {
    try {
      const sqsim::MatrixF m = g.load_tensor(t.name);
      if (static_cast<uint64_t>(m.size()) != t.n_elements) __builtin_trap();
    } catch (const Error&) {}
  }
  try {
    // BPE or SentencePiece-style, as tokenizer.ggml.model says.
    const std::unique_ptr<sqsim::Tokenizer> tok = sqsim::load_gguf_tokenizer(g);
    tok->decode(tok->encode("Hello world, 123 <|endoftext|>\n \xC3\xA9\xFF"));
  } catch (const Error&) {}
  return 0;
}
