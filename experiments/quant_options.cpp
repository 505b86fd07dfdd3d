#include "experiments/quant_options.h"

namespace sqsim::cli {

void add_quantizer_variant_options(po::options_description& d) {
  d.add_options()("rounding", po::value<std::string>()->default_value("half-even"),
                  "half-even (torch.round), half-away (std::round) or stochastic")(
      "scale-rule", po::value<std::string>()->default_value("reference"),
      "symmetric scale: reference (absmax/127), half-range (absmax/127.5) or reciprocal (x*127/absmax)")(
      "clamp", po::value<std::string>()->default_value("full"), "symmetric code range: full [-128,127] or narrow [-127,127]")(
      "seed", po::value<unsigned long long>()->default_value(0), "seed of stochastic rounding")(
      "w-symmetric", po::value<bool>()->default_value(true),
      "symmetric weights (false: asymmetric with a zero point, as AWQ / SmoothQuant+)")(
      "a-symmetric", po::value<bool>()->default_value(true), "symmetric activations (false: with a zero point)");
}

QuantizerVariant quantizer_variant(const po::variables_map& vm) {
  QuantizerVariant v;
  v.rounding = parse_rounding(vm["rounding"].as<std::string>());
  v.scale_rule = parse_scale_rule(vm["scale-rule"].as<std::string>());
  v.clamp = parse_clamp(vm["clamp"].as<std::string>());
  v.seed = vm["seed"].as<unsigned long long>();
  v.w_symmetric = vm["w-symmetric"].as<bool>();
  v.a_symmetric = vm["a-symmetric"].as<bool>();
  return v;
}

void add_sweep_grid_options(po::options_description& o) {
  o.add_options()("alpha", po::value<std::string>()->default_value("none,0.5"),
                  "migration strengths: none, numbers, start:stop:step (e.g. none,0:1:0.05)")(
      "w-bits", po::value<std::string>()->default_value("8"), "weight bits, list (2..8, 16 = float)")(
      "a-bits", po::value<std::string>()->default_value("8"), "activation bits, list (2..8, 16 = float)")(
      "w-granularity", po::value<std::string>()->default_value("per-tensor"),
      "list of per-tensor, per-channel, group64, group128, group256, group<G>")(
      "a-granularity", po::value<std::string>()->default_value("per-token"),
      "list of per-tensor, per-token, per-channel, group<G>")(
      "act-scale", po::value<std::string>()->default_value("dynamic"), "list of static, dynamic");
  add_quantizer_variant_options(o);
}

SweepGrid sweep_grid(const po::variables_map& vm) {
  SweepGrid g;
  g.alpha = vm["alpha"].as<std::string>();
  g.w_bits = vm["w-bits"].as<std::string>();
  g.a_bits = vm["a-bits"].as<std::string>();
  g.w_granularity = vm["w-granularity"].as<std::string>();
  g.a_granularity = vm["a-granularity"].as<std::string>();
  g.act_scale = vm["act-scale"].as<std::string>();
  g.variant = quantizer_variant(vm);
  return g;
}

}  // namespace sqsim::cli
