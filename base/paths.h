#pragma once
// Where the project's data and models are, whatever the current directory.
// Paths in options, defaults and config files may start with ${SQSIM_DATA}
// or ${SQSIM_MODELS}; the command-line layer expands them once
// (experiments/cli.cpp) and reports print them back in that form.
#include <string>

namespace sqsim {

// $SQSIM_DATA when set, else the shared/data folder beside the repository this
// build came from (<repository>/../shared/data): WikiText-2, PTB, tasks.
std::string data_dir();
// $SQSIM_MODELS when set, else <repository>/models (scripts/fetch-model.sh).
std::string models_dir();

// A leading ${SQSIM_DATA} or ${SQSIM_MODELS} replaced by the folder; any other
// text unchanged.
std::string expand_path(const std::string& text);
// The reverse, for reports: a path under data_dir() or models_dir() written
// with the variable, so that provenance does not depend on the machine.
std::string display_path(const std::string& path);

// For an error about a file that cannot be read: when `path` lies under
// data_dir() or models_dir(), says which variable placed it there and how to
// change it; else "".
std::string missing_file_hint(const std::string& path);

}  // namespace sqsim
