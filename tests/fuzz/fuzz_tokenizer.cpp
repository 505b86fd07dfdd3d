// libFuzzer harness for the BPE tokenizer. The first byte picks the mode:
//  even: the rest is text, encoded with the real SmolLM2 vocabulary fixture
//        (tests/data); when encode accepts the text, decode(encode(text)) must
//        give it back exactly (byte-level BPE loses nothing, invalid UTF-8
//        included).
//  odd:  the rest is "VOCAB FILE \0 MERGES FILE \0 TEXT" in the fixture format
//        of docs/tokenizer.md; the files are loaded with from_files (refusals
//        are fine) and the text encoded and decoded with what loaded.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "sim/tokenizer/bpe_tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

const sqsim::BpeTokenizer& real_tokenizer() {
  static const sqsim::BpeTokenizer tok = sqsim::BpeTokenizer::from_files(
      SQSIM_TEST_DATA_DIR "/smollm2.vocab.txt", SQSIM_TEST_DATA_DIR "/smollm2.merges.txt");
  return tok;
}

void round_trip(const sqsim::BpeTokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids;
  try {
    ids = tok.encode(text);
  } catch (const sqsim::Error&) {
    return;  // a byte with no token (SmolLM2 has none for 0xC0, 0xC1, 0xF5..0xFF, a few controls) is refused: fine
  }
  if (tok.decode(ids) != text) __builtin_trap();  // a lossy round trip is a bug
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    round_trip(real_tokenizer(), rest);
    return 0;
  }
  const size_t z1 = rest.find('\0');
  const size_t z2 = z1 == std::string::npos ? std::string::npos : rest.find('\0', z1 + 1);
  if (z2 == std::string::npos) return 0;
  const std::string vocab = rest.substr(0, z1), merges = rest.substr(z1 + 1, z2 - z1 - 1), text = rest.substr(z2 + 1);
  const std::string vpath = sqsim::fuzz::scratch_path("vocab.txt"), mpath = sqsim::fuzz::scratch_path("merges.txt");
  sqsim::fuzz::write_bytes(vpath, reinterpret_cast<const uint8_t*>(vocab.data()), vocab.size());
  sqsim::fuzz::write_bytes(mpath, reinterpret_cast<const uint8_t*>(merges.data()), merges.size());
  std::unique_ptr<sqsim::BpeTokenizer> tok;
  try {
    tok = std::make_unique<sqsim::BpeTokenizer>(sqsim::BpeTokenizer::from_files(vpath, mpath));
  } catch (const sqsim::Error&) {
    return 0;
  }
  // A small vocabulary may lack byte tokens: encode may refuse, never crash.
  try {
    tok->decode(tok->encode(text));
  } catch (const sqsim::Error&) {
  }
  return 0;
}
