#include "sim/models/layer_table.h"

namespace sqsim {

int block_index(const std::string& n, const std::string& prefix, int n_layers, std::string* rest) {
  if (n.rfind(prefix, 0) != 0) return -1;
  const size_t dot = n.find('.', prefix.size());
  if (dot == std::string::npos) return -1;
  const std::string idx = n.substr(prefix.size(), dot - prefix.size());
  if (idx.empty() || idx.size() > 5 || idx.find_first_not_of("0123456789") != std::string::npos) return -1;
  const int l = std::stoi(idx);
  if (l >= n_layers) return -1;
  *rest = n.substr(dot + 1);
  return l;
}

std::pair<std::string, std::string> split_weight_suffix(const std::string& n) {
  for (const std::string suffix : {".weight", ".bias"})
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      return {n.substr(0, n.size() - suffix.size()), suffix};
  return {n, ""};
}

WeightSource gguf_weight_source(const GgufFile& g, const std::string& arch,
                                std::function<std::string(const std::string& hf_tensor)> gguf_name) {
  WeightSource src;
  src.has = [&g, gguf_name](const std::string& hf) {
    const std::string name = gguf_name(hf);
    return !name.empty() && g.find_tensor(name) != nullptr;
  };
  src.load = [&g, arch, gguf_name](const std::string& hf, long rows, long cols) {
    const std::string name = gguf_name(hf);
    if (name.empty()) throw Error(str(g.path(), ": ", arch, " tensor ", hf, " has no GGUF name"));  // not reached
    const std::string want = rows == 1 ? str("[", cols, "]") : str("[", rows, " x ", cols, "]");
    const GgufTensorInfo* t = g.find_tensor(name);
    if (!t) throw Error(str(g.path(), ": missing tensor ", name, " (", hf, ", ", want, ")"));
    // GGUF lists dims fastest first: a [rows x cols] weight is {cols, rows}.
    const bool shape_ok = rows == 1 ? t->dims.size() == 1 && t->dims[0] == uint64_t(cols)
                                    : t->dims.size() == 2 && t->dims[0] == uint64_t(cols) && t->dims[1] == uint64_t(rows);
    if (!shape_ok) {
      std::string have;
      for (size_t i = t->dims.size(); i-- > 0;) have += str(have.empty() ? "" : " x ", t->dims[i]);
      throw Error(str(g.path(), ": tensor ", name, " (", t->type_name(), ") is [", have,
                      "] (outer dimension first), expected ", want, " from the ", arch, ".* metadata"));
    }
    return g.load_tensor(name);
  };
  return src;
}

}  // namespace sqsim
