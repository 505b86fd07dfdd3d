#include "sim/models/load_model.h"

#include <sys/stat.h>

#include <iterator>

#include "base/error.h"
#include "base/str.h"
#include "sim/formats/gguf_file.h"
#include "sim/models/bloom_model.h"
#include "sim/models/gemma3_model.h"
#include "sim/models/hf_checkpoint.h"
#include "sim/models/llama_model.h"
#include "sim/models/mixtral_model.h"
#include "sim/models/opt_model.h"
#include "sim/tokenizer/gguf_tokenizer.h"

namespace sqsim {

namespace {

template <class Model>
std::unique_ptr<CausalLm> gguf_loader(const std::string& path) {
  return std::make_unique<Model>(Model::load_gguf(path));
}

// llama.cpp writes Mixtral as architecture "llama" (ffn_gate_inp, ffn_*_exps
// tensors), which sqsim's Llama loader does not read: a file never says "mixtral".
std::unique_ptr<CausalLm> mixtral_gguf(const std::string& path) {
  throw Error(path + ": Mixtral GGUF files are not supported (Hugging Face folders only)");
}

const ModelFamily kFamilies[] = {
    {"llama", gguf_loader<LlamaModel>, llama_from_hf},
    {"opt", gguf_loader<OptModel>, opt_from_hf},
    // Llama-like families: LlamaModel with config flags (docs/hf-checkpoints.md)
    {"mistral", gguf_loader<LlamaModel>, llama_from_hf},
    {"qwen2", gguf_loader<LlamaModel>, llama_from_hf},
    {"qwen3", gguf_loader<LlamaModel>, llama_from_hf},
    {"phi3", gguf_loader<LlamaModel>, llama_from_hf},
    {"bloom", gguf_loader<BloomModel>, bloom_from_hf},
    {"mixtral", mixtral_gguf, mixtral_from_hf},
    // GGUF says "gemma3"; HF "gemma3_text", or "gemma3" for the multimodal config
    {"gemma3", gguf_loader<Gemma3Model>, gemma3_from_hf},
    {"gemma3_text", gguf_loader<Gemma3Model>, gemma3_from_hf},
};

}  // namespace

const ModelFamily* find_model_family(const std::string& arch) {
  for (const ModelFamily& f : kFamilies)
    if (arch == f.arch) return &f;
  return nullptr;
}

std::string model_family_names() {
  std::string out;
  const size_t n = std::size(kFamilies);
  for (size_t i = 0; i < n; ++i) out += str(i == 0 ? "" : i + 1 == n ? " or " : ", ", kFamilies[i].arch);
  return out;
}

LoadedModel load_model(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return load_hf_checkpoint(path);
  LoadedModel m;
  m.path = path;
  const ModelFamily* family = nullptr;
  {
    const GgufFile g = GgufFile::open(path);
    const std::string arch = g.get_string("general.architecture");
    family = find_model_family(arch);
    if (!family)
      throw Error(path + ": architecture '" + arch + "' is not supported (expected " + model_family_names() + ")");
    m.tokenizer = load_gguf_tokenizer(g);
    int32_t bos = -1;
    if (gguf_adds_bos(g, &bos)) m.bos = bos;
  }
  m.model = family->from_gguf(path);
  if (m.bos && (*m.bos < 0 || *m.bos >= m.model->vocab_size()))
    throw Error(str(path, ": tokenizer.ggml.bos_token_id ", *m.bos, " is outside the vocabulary of ",
                    m.model->vocab_size()));
  return m;
}

LoadedTokenizer load_tokenizer(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    LoadedModel m = load_model(path);
    return {std::move(m.tokenizer), m.bos};
  }
  const GgufFile g = GgufFile::open(path);
  LoadedTokenizer t{load_gguf_tokenizer(g), std::nullopt};
  int32_t bos = -1;
  if (gguf_adds_bos(g, &bos)) {
    if (bos < 0 || size_t(bos) >= t.tokenizer->vocab_size())
      throw Error(str(path, ": tokenizer.ggml.bos_token_id ", bos, " is outside the vocabulary of ",
                      t.tokenizer->vocab_size()));
    t.bos = bos;
  }
  return t;
}

std::vector<int32_t> tokenize_document(const LoadedModel& m, const std::string& text) {
  std::vector<int32_t> ids;
  if (m.bos) ids.push_back(*m.bos);
  const std::vector<int32_t> enc = m.tokenizer->encode(text);
  ids.insert(ids.end(), enc.begin(), enc.end());
  return ids;
}

}  // namespace sqsim
