// sqsim model-info: architecture, hyperparameters and tensors of a GGUF model file.
#include <cstdio>
#include <iostream>
#include <map>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/format.h"
#include "base/error.h"
#include "base/io.h"
#include "sim/formats/gguf_file.h"

namespace sqsim::cli {

namespace {

std::string value_text(const GgufFile& g, const std::string& key) {
  const GgufValue* v = g.find(key);
  if (!v) return "(missing)";
  if (v->is_integer()) return std::to_string(g.get_int(key));
  if (v->is_float()) return significant(v->f, 6);
  if (v->type == GgufValueType::STRING) return v->s;
  if (v->type == GgufValueType::ARRAY) return "array of " + std::to_string(v->items.size());
  return gguf_value_type_name(v->type);
}

std::string shape_text(const GgufTensorInfo& t) {
  std::string s = "[";
  for (size_t d = 0; d < t.dims.size(); ++d) s += (d ? ", " : "") + std::to_string(t.dims[d]);
  return s + "]";
}

}  // namespace

int run_model_info(int argc, char** argv) {
  po::options_description o("model-info");
  o.add_options()("model", po::value<std::string>()->required(), "GGUF model file (docs/gguf.md)")(
      "tensors", po::bool_switch(), "list every tensor: name, type, GGUF shape [ne0, ne1, ...]")(
      "dump", po::value<std::string>(), "write tensor NAME dequantized to float32 into --out")(
      "out", po::value<std::string>(), "file for --dump: raw little-endian float32, row-major [rows x ne0]");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim model-info --model FILE.gguf [--tensors] [--dump NAME --out FILE.f32]\n\n"
             "Architecture, hyperparameters, tensor count and per-type counts of a GGUF file.\n"
             "--dump writes one tensor as float32 (any type load_tensor decodes, docs/gguf.md), e.g. to\n"
             "compare the dequantizer with another decoder (tests/python/test_gguf_kquants.py).",
             o, vm))
    return 0;
  if (vm.count("dump") != vm.count("out")) throw Error("model-info: --dump and --out go together");
  const GgufFile g = GgufFile::open(vm["model"].as<std::string>());
  if (vm.count("dump")) {
    const MatrixF m = g.load_tensor(vm["dump"].as<std::string>());
    write_file_atomic(vm["out"].as<std::string>(),
                      std::string(reinterpret_cast<const char*>(m.data()), sizeof(float) * size_t(m.size())));
    return 0;
  }
  const std::string arch = g.has("general.architecture") ? g.get_string("general.architecture") : "";
  std::cout << "file: " << g.path() << "\n"
            << "gguf version: " << g.version() << ", alignment " << g.alignment() << ", " << g.metadata().size()
            << " metadata keys\n"
            << "architecture: " << (arch.empty() ? "(missing)" : arch) << "\n";
  if (g.has("general.name")) std::cout << "name: " << value_text(g, "general.name") << "\n";
  if (!arch.empty()) {
    const char* keys[] = {"block_count", "context_length", "embedding_length", "feed_forward_length",
                          "attention.head_count", "attention.head_count_kv", "rope.freq_base",
                          "rope.dimension_count", "attention.layer_norm_rms_epsilon", "vocab_size"};
    for (const char* k : keys) {
      const std::string key = arch + "." + k;
      std::cout << key << ": " << value_text(g, key) << "\n";
    }
  }
  if (g.has("tokenizer.ggml.tokens")) {
    std::cout << "tokenizer.ggml.tokens: " << g.get("tokenizer.ggml.tokens").items.size() << " tokens\n";
  }
  std::map<std::string, size_t> per_type;
  uint64_t elements = 0;
  for (const GgufTensorInfo& t : g.tensors()) {
    ++per_type[t.type_name()];
    elements += t.n_elements;
  }
  std::cout << "tensors: " << g.tensors().size() << " (" << elements << " elements)\n";
  for (const auto& [type, count] : per_type) std::cout << "  " << type << ": " << count << "\n";
  if (vm["tensors"].as<bool>()) {
    for (const GgufTensorInfo& t : g.tensors()) {
      std::cout << t.name << "\t" << t.type_name() << "\t" << shape_text(t) << "\n";
    }
  }
  return 0;
}

}  // namespace sqsim::cli
