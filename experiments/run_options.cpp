#include "experiments/run_options.h"

#include <filesystem>
#include <fstream>

#include "base/error.h"

namespace sqsim::cli {

namespace fs = std::filesystem;

std::unique_ptr<tbb::global_control> thread_limit(int threads) {
  if (threads == 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
}

std::string threads_text(int threads) {
  return threads == 0 ? std::string("all cores") : std::to_string(threads) + " thread(s)";
}

void prepare_output_dir(const OutputOptions& o, bool resumable) {
  if (o.resume && o.force) throw Error("--resume and --force: choose one");
  std::error_code ec;
  if (fs::exists(o.out, ec)) {
    if (!fs::is_directory(o.out, ec)) throw Error("--out " + o.out + ": exists and is not a directory");
    if (!fs::is_empty(o.out, ec) && !o.force && !o.resume) {
      throw Error("--out " + o.out + ": exists and is not empty (use --force to overwrite it" +
                  (resumable ? std::string(", or --resume to finish it)") : std::string(")")));
    }
    return;
  }
  fs::create_directories(o.out, ec);
  if (ec) throw Error("--out " + o.out + ": cannot create the directory (" + ec.message() + ")");
}

void prepare_output_file(const OutputOptions& o) {
  if (!o.force && std::ifstream(o.out)) throw Error("--out " + o.out + ": exists (use --force to replace it)");
}

}  // namespace sqsim::cli
