#include "experiments/output_dir.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "base/error.h"

namespace sqsim::cli {

namespace fs = std::filesystem;

void prepare_output_dir(const std::string& dir, bool force, bool resume, const std::string& option,
                        bool allow_resume) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw Error(option + " " + dir + ": exists and is not a directory");
    if (!fs::is_empty(dir, ec) && !force && !resume) {
      throw Error(option + " " + dir + ": exists and is not empty (use --force to overwrite it" +
                  (allow_resume ? std::string(", or --resume to finish it)") : std::string(")")));
    }
    return;
  }
  fs::create_directories(dir, ec);
  if (ec) throw Error(option + " " + dir + ": cannot create the directory (" + ec.message() + ")");
}

}  // namespace sqsim::cli
