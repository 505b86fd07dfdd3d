#include "sim/eval/weight_search_file.h"

#include <cstdint>
#include <fstream>
#include <sstream>

#include "base/binary_io.h"
#include "base/error.h"
#include "base/io.h"

namespace sqsim {

namespace {

const char kMagic[] = "sqsim-weight-search 1\n";

std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream x(a), y(b);
  std::string la, lb;
  while (true) {
    const bool ga = bool(std::getline(x, la)), gb = bool(std::getline(y, lb));
    if (!ga && !gb) return "";
    if (!ga || !gb || la != lb) return "'" + (ga ? la : std::string("(end)")) + "' here, '" +
                                       (gb ? lb : std::string("(end)")) + "' now";
  }
}

}  // namespace

std::string weight_search_file_bytes(const std::string& key, const WeightSearchResult& r) {
  std::string out(kMagic);
  put_string(out, key);
  put_u64(out, uint64_t(r.method));
  put_u64(out, r.awq_scales.size());
  for (const AwqGroupScale& g : r.awq_scales) {
    put_string(out, g.prev);
    put_u64(out, g.prev_is_norm);
    put_u64(out, g.layers.size());
    for (const std::string& n : g.layers) put_string(out, n);
    put_counted(out, &g.ratio, 1);
    put_u64(out, g.smoothquant_form);
    put_counted(out, g.scales.data(), size_t(g.scales.size()));
    put_counted(out, g.losses.data(), g.losses.size());
  }
  put_u64(out, r.awq_clip.size());
  for (const auto& [n, c] : r.awq_clip) {
    put_string(out, n);
    put_u64(out, uint64_t(c.rows()));
    put_counted(out, c.data(), size_t(c.size()));
  }
  put_u64(out, r.gptq.size());
  for (const auto& [n, q] : r.gptq) {
    put_string(out, n);
    put_u64(out, uint64_t(q.rows));
    put_u64(out, uint64_t(q.cols));
    put_u64(out, uint64_t(q.spec.bits));
    put_u64(out, uint64_t(q.spec.group_size));
    put_counted(out, q.params.scale.data(), q.params.scale.size());
    put_counted(out, q.params.zero_point.data(), q.params.zero_point.size());
    std::vector<uint8_t> codes(q.codes.begin(), q.codes.end());  // asymmetric codes: 0 .. 2^bits - 1
    put_counted(out, codes.data(), codes.size());
    const auto l = r.gptq_loss.find(n);
    const double loss = l != r.gptq_loss.end() ? l->second : 0.0;
    put_counted(out, &loss, 1);
  }
  return out;
}

bool read_weight_search_file(const std::string& path, const std::string& key, WeightSearchResult* out) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) return false;
  const std::string bytes = read_file(path);
  if (bytes.compare(0, sizeof kMagic - 1, kMagic) != 0)
    throw Error(path + ": not a saved weight search (expected it to start with 'sqsim-weight-search 1')");
  ByteReader rd(bytes, sizeof kMagic - 1, path, "saved weight search", "delete it to search again");
  const std::string saved = rd.str("the key");
  if (saved != key)
    throw Error(path + ": a weight search of another model, calibration or setting (" +
                first_difference(saved, key) + "); delete it or pass another --search-cache");
  WeightSearchResult r;
  r.method = ModelQuantConfig::WeightMethod(rd.u64("the method"));
  for (uint64_t i = 0, n = rd.u64("the AWQ group count"); i < n; ++i) {
    AwqGroupScale g;
    g.prev = rd.str("a group's norm or layer");
    g.prev_is_norm = rd.u64("prev_is_norm") != 0;
    for (uint64_t j = 0, m = rd.u64("the group's layer count"); j < m; ++j) g.layers.push_back(rd.str("a layer"));
    const std::vector<float> ratio = rd.counted<float>("the ratio");
    if (ratio.size() != 1) rd.fail("one ratio");
    g.ratio = ratio[0];
    g.smoothquant_form = rd.u64("the form") != 0;
    const std::vector<float> s = rd.counted<float>("the scales");
    g.scales = Eigen::Map<const VectorF>(s.data(), long(s.size()));
    g.losses = rd.counted<double>("the losses");
    r.awq_scales.push_back(std::move(g));
  }
  for (uint64_t i = 0, n = rd.u64("the clip count"); i < n; ++i) {
    const std::string name = rd.str("a clipped layer");
    const uint64_t rows = rd.u64("clip rows");
    const std::vector<float> v = rd.counted<float>("the clips");
    if (rows == 0 || v.size() % rows) rd.fail("clips of whole rows");
    r.awq_clip[name] = Eigen::Map<const MatrixF>(v.data(), long(rows), long(v.size() / rows));
  }
  for (uint64_t i = 0, n = rd.u64("the GPTQ layer count"); i < n; ++i) {
    const std::string name = rd.str("a GPTQ layer");
    QuantizedMatrix q;
    q.rows = long(rd.u64("rows"));
    q.cols = long(rd.u64("cols"));
    q.spec.bits = int(rd.u64("bits"));
    q.spec.symmetric = false;
    q.spec.granularity = Granularity::kPerGroup;
    q.spec.group_size = int(rd.u64("group size"));
    q.params.scale = rd.counted<float>("scales");
    q.params.zero_point = rd.counted<int32_t>("zero points");
    const std::vector<uint8_t> codes = rd.counted<uint8_t>("codes");
    if (q.spec.group_size < 1 || codes.size() != size_t(q.rows * q.cols) ||
        q.params.scale.size() != size_t(q.rows * q.spec.groups_per_row(q.cols)) ||
        q.params.zero_point.size() != q.params.scale.size())
      rd.fail("codes and parameters of the stated shape");
    q.codes.assign(codes.begin(), codes.end());
    const std::vector<double> loss = rd.counted<double>("the loss");
    if (loss.size() != 1) rd.fail("one loss");
    r.gptq_loss[name] = loss[0];
    r.gptq[name] = std::move(q);
  }
  if (!rd.at_end()) rd.fail("the end of the file");
  *out = std::move(r);
  return true;
}

}  // namespace sqsim
