#pragma once
// Paths of the real model and texts the tests use when they are present
// (scripts/fetch-model.sh, $SQSIM_DATA or ../shared/data: base/paths.h);
// tests skip when they are absent.
#include <fstream>
#include <string>

#include "base/paths.h"

namespace sqsim_test {

inline const std::string kModel = sqsim::models_dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf";
inline const std::string kWiki = sqsim::data_dir() + "/wikitext-2-raw/wiki.test.raw";
inline const std::string kPtb = sqsim::data_dir() + "/ptb/ptb.test.txt";
inline const std::string kPtbValid = sqsim::data_dir() + "/ptb/ptb.valid.txt";

inline bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace sqsim_test
