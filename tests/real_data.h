#pragma once
// Paths of the real model and texts the tests use when they are present
// (scripts/fetch-model.sh, ../shared/data); tests skip when they are absent.
#include <fstream>
#include <string>

namespace sqsim_test {

inline const std::string kModel = std::string(SQSIM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
inline const std::string kWiki = std::string(SQSIM_SHARED_DIR) + "/data/wikitext-2-raw/wiki.test.raw";
inline const std::string kPtb = std::string(SQSIM_SHARED_DIR) + "/data/ptb/ptb.test.txt";
inline const std::string kPtbValid = std::string(SQSIM_SHARED_DIR) + "/data/ptb/ptb.valid.txt";

inline bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace sqsim_test
