// run_sweep reuses quantized operands across configurations (LayerAlphaCache);
// its rows must be exactly those of evaluate_layer, which recomputes everything.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "experiments/quant_options.h"
#include "experiments/sweep.h"
#include "sim/eval/synthetic_traces.h"

namespace sqsim::cli {
namespace {

std::vector<SweepConfig> configs_from(std::vector<std::string> args) {
  po::options_description o;
  add_sweep_grid_options(o);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(o).run(), vm);
  po::notify(vm);
  return build_sweep_configs(sweep_grid(vm));
}

TraceFile small_traces() {
  SyntheticTraceSpec spec;
  spec.blocks = 1;
  spec.hidden = 64;
  spec.kv_dim = 32;
  spec.intermediate = 128;
  spec.tokens = 16;
  spec.outlier_channels = 2;
  spec.seed = 3;
  return make_synthetic_traces(spec);
}

std::vector<std::string> sweep_rows(const TraceFile& t, const std::vector<size_t>& layers,
                                    const std::vector<SweepConfig>& configs, const SweepOptions& options,
                                    const std::vector<char>& done) {
  std::vector<std::string> rows(layers.size() * configs.size());
  run_sweep(t, layers, configs, options, done, [&](size_t i, const std::string& row) { rows[i] = row; },
            [](size_t) {});
  return rows;
}

// Every branch of a row: both integer products and W4A16, static and dynamic
// scales, fake-quant fallbacks (per-tensor int4 weights, per-channel and
// asymmetric activations, float weights), and skipped rows (static per-token,
// group 48 that divides no K here).
const std::vector<std::string> kMixedArgs = {
    "--alpha=none,0.5,1", "--w-bits=8,4,16", "--a-bits=8,16",
    "--w-granularity=per-tensor,per-channel,group32,group48", "--a-granularity=per-token,per-tensor,per-channel",
    "--act-scale=dynamic,static"};

TEST(Sweep, CachedRowsEqualEvaluateLayerForEveryBranch) {
  const TraceFile t = small_traces();
  const std::vector<SweepConfig> configs = configs_from(kMixedArgs);
  std::vector<size_t> layers;
  for (size_t i = 0; i < t.layers.size(); ++i) layers.push_back(i);
  std::map<std::string, std::vector<VectorF>> factors;
  for (const SweepConfig& c : configs)
    if (c.alpha) factors[c.alpha_name] = group_smoothing_factors(t, layers, *c.alpha);

  for (const auto mode : {kernels::EmulationMode::kInteger, kernels::EmulationMode::kFakeQuant}) {
    SweepOptions options;
    options.run.mode = mode;
    options.run.threads = 2;
    const std::vector<std::string> rows = sweep_rows(t, layers, configs, options, {});
    std::map<std::string, int> seen;
    for (size_t li = 0; li < layers.size(); ++li) {
      const MatrixF y_ref = reference_output(t.layers[li]);
      for (size_t ci = 0; ci < configs.size(); ++ci) {
        const SweepConfig& c = configs[ci];
        const VectorF* s = c.alpha ? &factors.at(c.alpha_name)[li] : nullptr;
        const std::string expected = evaluate_layer(t.layers[li], s, c, options, y_ref);
        ASSERT_EQ(rows[li * configs.size() + ci], expected) << "layer " << li << " config " << ci;
        const auto ends_with = [&](const std::string& e) {
          return expected.size() >= e.size() && expected.compare(expected.size() - e.size(), e.size(), e) == 0;
        };
        if (ends_with(",fake-quant,ok")) {
          seen["fake-quant"]++;
        } else if (ends_with(",ok")) {
          seen["integer"]++;
        } else if (expected.find(",skipped: ") != std::string::npos ||
                   expected.find(",\"skipped: ") != std::string::npos) {
          seen["skipped"]++;
        }
      }
    }
    // The configuration set really reaches each branch it is meant to cover.
    if (mode == kernels::EmulationMode::kInteger) {
      EXPECT_GT(seen["integer"], 0);
    }
    EXPECT_GT(seen["fake-quant"], 0);
    EXPECT_GT(seen["skipped"], 0);
  }
}

TEST(Sweep, ResumedItemsAreNotRedoneAndOthersMatch) {
  const TraceFile t = small_traces();
  const std::vector<SweepConfig> configs = configs_from({"--alpha=none,0.5", "--w-bits=8,4", "--a-bits=8",
                                                          "--w-granularity=per-channel,group32",
                                                          "--a-granularity=per-token,per-tensor"});
  const std::vector<size_t> layers = {0, 3, 6};
  SweepOptions options;
  const std::vector<std::string> full = sweep_rows(t, layers, configs, options, {});
  std::vector<char> done(full.size(), 0);
  for (size_t i = 0; i < done.size(); i += 3) done[i] = 1;
  options.run.threads = 2;
  const std::vector<std::string> rest = sweep_rows(t, layers, configs, options, done);
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_FALSE(full[i].empty());
    EXPECT_EQ(rest[i], done[i] ? std::string() : full[i]) << i;
  }
}

}  // namespace
}  // namespace sqsim::cli
