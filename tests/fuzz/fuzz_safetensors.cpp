// libFuzzer harness for the Hugging Face readers (sim/formats/json.h,
// sim/formats/safetensors_file.h). The first byte picks the mode:
//  0 mod 3: the rest is a JSON document for parse_json;
//  1 mod 3: the rest is a whole safetensors file, opened with
//           SafetensorsFile::open (header length, JSON header, byte ranges
//           against the file size) and every tensor loaded;
//  2 mod 3: the rest is a safetensors header alone, parsed against a data
//           region whose size is the header's own length (so byte ranges
//           near the end are reachable).
// Any sqsim::Error is a correct refusal.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "sim/formats/json.h"
#include "sim/formats/safetensors_file.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0:
        sqsim::parse_json(rest, "fuzz.json");
        break;
      case 1: {
        const std::string path = sqsim::fuzz::scratch_path("model.safetensors");
        sqsim::fuzz::write_bytes(path, data + 1, size - 1);
        const sqsim::SafetensorsFile f = sqsim::SafetensorsFile::open(path);
        for (const sqsim::SafetensorsTensor& t : f.header().tensors) {
          try {
            f.load(t.name);
          } catch (const sqsim::Error&) {
          }
        }
        break;
      }
      default:
        sqsim::parse_safetensors_header(rest, rest.size(), "fuzz.safetensors");
        break;
    }
  } catch (const sqsim::Error&) {
  }
  return 0;
}
