#include "experiments/quant_options.h"

#include "base/error.h"

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

namespace {

QuantSpec common(int bits, const po::variables_map& vm, bool symmetric) {
  QuantSpec s;
  s.bits = bits;
  s.symmetric = symmetric;
  s.rounding = parse_rounding(vm["rounding"].as<std::string>());
  s.scale_rule = parse_scale_rule(vm["scale-rule"].as<std::string>());
  s.clamp = parse_clamp(vm["clamp"].as<std::string>());
  s.seed = vm["seed"].as<unsigned long long>();
  if (!symmetric) {
    // Variants of the symmetric scale do not apply to zero-point quantizers.
    s.scale_rule = ScaleRule::kReference;
    s.clamp = ClampRange::kFull;
  }
  return s;
}

}  // namespace

QuantSpec weight_spec(int bits, const std::string& granularity, const po::variables_map& vm) {
  QuantSpec s = common(bits, vm, vm["w-symmetric"].as<bool>());
  parse_granularity(granularity, TensorRole::kWeight, s);
  s.validate("--w-bits/--w-granularity");
  return s;
}

QuantSpec activation_spec(int bits, const std::string& granularity, const std::string& act_scale,
                          const po::variables_map& vm) {
  QuantSpec s = common(bits, vm, vm["a-symmetric"].as<bool>());
  parse_granularity(granularity, TensorRole::kActivation, s);
  s.source = parse_scale_source(act_scale);
  if (s.source == ScaleSource::kStatic &&
      (s.granularity == Granularity::kPerRow || s.granularity == Granularity::kPerGroup)) {
    throw Error("--act-scale static with --a-granularity " + granularity +
                ": static scales cannot follow tokens they have not seen (expected per-tensor or per-channel)");
  }
  s.validate("--a-bits/--a-granularity");
  return s;
}

}  // namespace sqsim::cli
