#include "base/paths.h"

#include <cstdlib>
#include <filesystem>

namespace sqsim {

namespace {

const std::string kDataVar = "${SQSIM_DATA}";
const std::string kModelsVar = "${SQSIM_MODELS}";

// The folder named by the environment variable, else the default below the
// repository (SQSIM_SOURCE_DIR, set by CMake), written without "..".
std::string folder(const char* env, const std::string& below_repository) {
  const char* v = std::getenv(env);
  std::filesystem::path p = (v && *v) ? std::filesystem::path(v)
                                      : std::filesystem::path(SQSIM_SOURCE_DIR) / below_repository;
  std::string s = std::filesystem::weakly_canonical(p).string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

}  // namespace

std::string data_dir() { return folder("SQSIM_DATA", "../shared/data"); }
std::string models_dir() { return folder("SQSIM_MODELS", "models"); }

std::string expand_path(const std::string& text) {
  if (text.compare(0, kDataVar.size(), kDataVar) == 0) return data_dir() + text.substr(kDataVar.size());
  if (text.compare(0, kModelsVar.size(), kModelsVar) == 0) return models_dir() + text.substr(kModelsVar.size());
  return text;
}

std::string display_path(const std::string& path) {
  const std::string data = data_dir(), models = models_dir();
  if (under(path, data)) return kDataVar + path.substr(data.size());
  if (under(path, models)) return kModelsVar + path.substr(models.size());
  return path;
}

std::string missing_file_hint(const std::string& path) {
  if (under(path, data_dir()))
    return " (it is under SQSIM_DATA = " + data_dir() +
           ": set the environment variable SQSIM_DATA to the folder that holds wikitext-2-raw/, ptb/ and tasks/)";
  if (under(path, models_dir()))
    return " (it is under SQSIM_MODELS = " + models_dir() +
           ": run scripts/fetch-model.sh, or set SQSIM_MODELS to the folder that holds the model)";
  return "";
}

}  // namespace sqsim
