#include "sim/models/load_model.h"

#include <sys/stat.h>

#include "base/error.h"
#include "base/str.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/hf_checkpoint.h"
#include "sim/models/llama_model.h"
#include "sim/models/opt_model.h"
#include "sim/tokenizer/gguf_tokenizer.h"

namespace sqsim {

LoadedModel load_model(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return load_hf_checkpoint(path);
  LoadedModel m;
  m.path = path;
  std::string arch;
  {
    const GgufFile g = GgufFile::open(path);
    arch = g.get_string("general.architecture");
    if (arch != "llama" && arch != "opt")
      throw Error(path + ": architecture '" + arch + "' is not supported (expected llama or opt)");
    m.tokenizer = std::make_unique<BpeTokenizer>(tokenizer_from_gguf(g));
    int32_t bos = -1;
    if (gguf_adds_bos(g, &bos)) m.bos = bos;
  }
  if (arch == "opt")
    m.model = std::make_unique<OptModel>(OptModel::load_gguf(path));
  else
    m.model = std::make_unique<LlamaModel>(LlamaModel::load_gguf(path));
  if (m.bos && (*m.bos < 0 || *m.bos >= m.model->vocab_size()))
    throw Error(str(path, ": tokenizer.ggml.bos_token_id ", *m.bos, " is outside the vocabulary of ",
                    m.model->vocab_size()));
  return m;
}

std::vector<int32_t> tokenize_document(const LoadedModel& m, const std::string& text) {
  std::vector<int32_t> ids;
  if (m.bos) ids.push_back(*m.bos);
  const std::vector<int32_t> enc = m.tokenizer->encode(text);
  ids.insert(ids.end(), enc.begin(), enc.end());
  return ids;
}

}  // namespace sqsim
