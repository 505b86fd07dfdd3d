#include "quant/quant_spec.h"

#include "base/error.h"

namespace sqsim {

int QuantSpec::qmax() const {
  if (symmetric) return (1 << (bits - 1)) - 1;
  return (1 << bits) - 1;
}

int QuantSpec::qmin() const {
  if (!symmetric) return 0;
  return clamp == ClampRange::kNarrow ? -((1 << (bits - 1)) - 1) : -(1 << (bits - 1));
}

void QuantSpec::validate(const std::string& what) const {
  if (bits == 16) return;
  if (bits < 2 || bits > 8) {
    throw Error(what + ": bits = " + std::to_string(bits) + " (expected 2..8, or 16 for none)");
  }
  if (granularity == Granularity::kPerGroup && group_size <= 0) {
    throw Error(what + ": group size = " + std::to_string(group_size) + " (expected > 0)");
  }
  if (!symmetric && (scale_rule != ScaleRule::kReference || clamp != ClampRange::kFull)) {
    throw Error(what + ": scale rule and narrow clamp apply to symmetric quantizers only");
  }
}

void QuantSpec::validate_shape(long rows, long cols, const std::string& what) const {
  if (rows <= 0 || cols <= 0) {
    throw Error(what + ": empty tensor [" + std::to_string(rows) + ", " + std::to_string(cols) +
                "] (expected at least one row and one column)");
  }
}

long QuantSpec::num_params(long rows, long cols) const {
  switch (granularity) {
    case Granularity::kPerTensor: return 1;
    case Granularity::kPerRow: return rows;
    case Granularity::kPerColumn: return cols;
    case Granularity::kPerGroup: return rows * groups_per_row(cols);
  }
  return 1;
}

void parse_granularity(const std::string& name, TensorRole role, QuantSpec& spec) {
  const bool act = role == TensorRole::kActivation;
  const std::string who = act ? "activation granularity" : "weight granularity";
  spec.group_size = 0;
  if (name == "per-tensor") {
    spec.granularity = Granularity::kPerTensor;
  } else if (name == "per-token") {
    if (!act) throw Error(who + " 'per-token': weights have no tokens (expected per-tensor, per-channel or group<G>)");
    spec.granularity = Granularity::kPerRow;
  } else if (name == "per-channel") {
    spec.granularity = act ? Granularity::kPerColumn : Granularity::kPerRow;
  } else if (name.rfind("group", 0) == 0 && name.size() > 5) {
    const std::string digits = name.substr(5);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 6) {
      throw Error(who + " '" + name + "': expected group<G> with a positive integer G");
    }
    spec.group_size = std::stoi(digits);
    if (spec.group_size <= 0) throw Error(who + " '" + name + "': group size must be positive");
    spec.granularity = Granularity::kPerGroup;
  } else {
    throw Error(who + " '" + name +
                "': expected per-tensor, per-token, per-channel or group<G> (group64, group128, group256)");
  }
}

std::string granularity_name(const QuantSpec& spec, TensorRole role) {
  switch (spec.granularity) {
    case Granularity::kPerTensor: return "per-tensor";
    case Granularity::kPerRow: return role == TensorRole::kActivation ? "per-token" : "per-channel";
    case Granularity::kPerColumn: return "per-channel";
    case Granularity::kPerGroup: return "group" + std::to_string(spec.group_size);
  }
  return "?";
}

Rounding parse_rounding(const std::string& name) {
  if (name == "half-even" || name == "nearest") return Rounding::kHalfEven;
  if (name == "half-away") return Rounding::kHalfAwayFromZero;
  if (name == "stochastic") return Rounding::kStochastic;
  throw Error("rounding '" + name + "': expected half-even, half-away or stochastic");
}

std::string rounding_name(Rounding r) {
  switch (r) {
    case Rounding::kHalfEven: return "half-even";
    case Rounding::kHalfAwayFromZero: return "half-away";
    case Rounding::kStochastic: return "stochastic";
  }
  return "?";
}

ScaleRule parse_scale_rule(const std::string& name) {
  if (name == "reference") return ScaleRule::kReference;
  if (name == "half-range") return ScaleRule::kHalfRange;
  if (name == "reciprocal") return ScaleRule::kReciprocal;
  throw Error("scale rule '" + name + "': expected reference, half-range or reciprocal");
}

std::string scale_rule_name(ScaleRule r) {
  switch (r) {
    case ScaleRule::kReference: return "reference";
    case ScaleRule::kHalfRange: return "half-range";
    case ScaleRule::kReciprocal: return "reciprocal";
  }
  return "?";
}

ClampRange parse_clamp(const std::string& name) {
  if (name == "full") return ClampRange::kFull;
  if (name == "narrow") return ClampRange::kNarrow;
  throw Error("clamp '" + name + "': expected full or narrow");
}

ScaleSource parse_scale_source(const std::string& name) {
  if (name == "dynamic") return ScaleSource::kDynamic;
  if (name == "static") return ScaleSource::kStatic;
  throw Error("activation scale '" + name + "': expected static or dynamic");
}

std::string scale_source_name(ScaleSource s) {
  return s == ScaleSource::kStatic ? "static" : "dynamic";
}

int parse_bits(const std::string& text, const std::string& option) {
  if (text.empty() || text.size() > 3 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(option + " '" + text + "': expected an integer 2..8, or 16 for no quantization");
  }
  const int bits = std::stoi(text);
  if (bits != 16 && (bits < 2 || bits > 8)) {
    throw Error(option + " = " + text + ": expected an integer 2..8, or 16 for no quantization");
  }
  return bits;
}

}  // namespace sqsim
