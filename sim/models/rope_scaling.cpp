// The RoPE scaling variants, each written from its formula as
// docs/hf-checkpoints.md states it (after transformers' modeling_rope_utils).
#include "sim/models/rope_scaling.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "base/str.h"
#include "sim/formats/json.h"

namespace sqsim {

namespace {

constexpr double kPi = 3.14159265358979323846;

// base^(-2i/d) for the pairs i = 0..d/2-1: plain RoPE.
std::vector<double> plain_inv_freq(int head_dim, double base) {
  std::vector<double> f(size_t(head_dim / 2));
  for (size_t i = 0; i < f.size(); ++i) f[i] = std::pow(base, -2.0 * double(i) / head_dim);
  return f;
}

// YaRN's mscale: 0.1 m ln(s) + 1, or 1 when s <= 1.
double yarn_mscale(double s, double m) { return s <= 1.0 ? 1.0 : 0.1 * m * std::log(s) + 1.0; }

// factor, or max / original max when the config leaves it out.
double factor_or_ratio(const RopeScaling& s) {
  if (s.factor > 0.0) return s.factor;
  if (s.original_max <= 0 || s.max_positions <= 0)
    throw Error("rope " + s.type + ": no factor and no max / original max position embeddings");
  return double(s.max_positions) / s.original_max;
}

RopeFrequencies yarn(const RopeScaling& s, int d, double base) {
  const double factor = factor_or_ratio(s);
  RopeFrequencies r;
  r.attention_factor = s.attention_factor > 0.0 ? s.attention_factor
                       : (s.mscale != 0.0 && s.mscale_all_dim != 0.0)
                           ? yarn_mscale(factor, s.mscale) / yarn_mscale(factor, s.mscale_all_dim)
                           : yarn_mscale(factor, 1.0);
  // The pair index where a dimension turns `rotations` times over the original context.
  auto correction_dim = [&](double rotations) {
    return d * std::log(s.original_max / (rotations * 2.0 * kPi)) / (2.0 * std::log(base));
  };
  double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
  if (s.truncate) low = std::floor(low), high = std::ceil(high);
  low = std::max(low, 0.0);
  high = std::min(high, double(d - 1));
  if (low == high) high += 0.001;  // no zero-width ramp
  const std::vector<double> extrapolated = plain_inv_freq(d, base);
  r.inv_freq.resize(extrapolated.size());
  for (size_t i = 0; i < extrapolated.size(); ++i) {
    // ramp 0 below `low` (fast dimensions keep their frequency), 1 above `high` (slow ones are interpolated)
    const double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
    r.inv_freq[i] = extrapolated[i] / factor * ramp + extrapolated[i] * (1.0 - ramp);
  }
  return r;
}

RopeFrequencies llama3(const RopeScaling& s, int d, double base) {
  RopeFrequencies r;
  r.inv_freq = plain_inv_freq(d, base);
  const double low_wavelen = s.original_max / s.low_freq_factor, high_wavelen = s.original_max / s.high_freq_factor;
  for (double& f : r.inv_freq) {
    const double wavelen = 2.0 * kPi / f;
    if (wavelen > low_wavelen) {
      f /= s.factor;  // long wavelengths: interpolated
    } else if (wavelen >= high_wavelen) {
      // between the two: a blend, weight rising with the rotations over the original context
      const double smooth = (s.original_max / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = (1.0 - smooth) * f / s.factor + smooth * f;
    }  // short wavelengths: kept
  }
  return r;
}

}  // namespace

RopeFrequencies rope_frequencies(const RopeScaling& s, int head_dim, double base, long seq_len) {
  if (s.type == "default") return {plain_inv_freq(head_dim, base), 1.0};
  if (s.type == "linear") {
    RopeFrequencies r{plain_inv_freq(head_dim, base), 1.0};
    for (double& f : r.inv_freq) f /= s.factor;
    return r;
  }
  if (s.type == "dynamic") {
    // NTK: the base grows once the sequence passes max_position_embeddings
    const double len = std::max<double>(double(seq_len), s.max_positions), d = head_dim;
    const double scaled = base * std::pow(s.factor * len / s.max_positions - (s.factor - 1.0), d / (d - 2.0));
    return {plain_inv_freq(head_dim, scaled), 1.0};
  }
  if (s.type == "llama3") return llama3(s, head_dim, base);
  if (s.type == "yarn") return yarn(s, head_dim, base);
  if (s.type == "longrope") {
    const double factor = factor_or_ratio(s);
    RopeFrequencies r;
    r.attention_factor = s.attention_factor > 0.0 ? s.attention_factor
                         : factor <= 1.0          ? 1.0
                                                  : std::sqrt(1.0 + std::log(factor) / std::log(double(s.original_max)));
    const std::vector<double>& ext = seq_len > s.original_max ? s.long_factor : s.short_factor;
    if (ext.size() != size_t(head_dim / 2))
      throw Error(str("rope longrope: ", ext.size(), " factors, expected head_dim / 2 = ", head_dim / 2));
    r.inv_freq = plain_inv_freq(head_dim, base);
    for (size_t i = 0; i < ext.size(); ++i) r.inv_freq[i] /= ext[i];
    return r;
  }
  throw Error("rope scaling type \"" + s.type + "\" is not supported");
}

RopeScaling rope_scaling_from_json(const JsonValue& r, const std::string& key, const std::string& what,
                                   int max_positions, const std::vector<std::pair<std::string, std::string>>& aliases) {
  if (!r.is_object()) throw Error(what + ": \"" + key + "\" must be an object");
  const std::string w = what + " " + key;
  auto has = [&](const char* k) {
    const JsonValue* v = r.find(k);
    return v && !v->is_null();
  };
  RopeScaling s;
  s.max_positions = max_positions;
  const char* tk = has("rope_type") ? "rope_type" : "type";
  if (has(tk)) s.type = json_string(r, tk, w);
  for (const auto& [from, to] : aliases)
    if (s.type == from) s.type = to;
  static const char* const kTypes[] = {"default", "linear", "dynamic", "llama3", "yarn", "longrope"};
  if (std::find_if(std::begin(kTypes), std::end(kTypes), [&](const char* t) { return s.type == t; }) ==
      std::end(kTypes))
    throw Error(what + ": \"" + key + ".rope_type\" \"" + s.type +
                "\" is not supported (default, linear, dynamic, llama3, yarn or longrope)");
  if (!s.scaled()) return s;
  auto number = [&](const char* k, double dflt) { return has(k) ? json_number(r, k, w) : dflt; };
  auto positive = [&](const char* k, double dflt) {
    const double v = number(k, dflt);
    if (!(v > 0.0)) throw Error(what + ": \"" + key + "." + k + "\" must be positive");
    return v;
  };
  const bool factor_optional = s.type == "yarn" || s.type == "longrope";
  s.factor = factor_optional ? number("factor", 0.0) : positive("factor", -1.0);
  if (factor_optional && s.factor < 0.0) throw Error(what + ": \"" + key + ".factor\" must be positive");
  if (s.type == "dynamic" && max_positions <= 0)
    throw Error(what + ": rope type dynamic needs \"max_position_embeddings\"");
  if (s.type == "llama3" || s.type == "yarn" || s.type == "longrope")
    s.original_max = int(positive("original_max_position_embeddings", max_positions > 0 ? max_positions : -1));
  if (s.type == "llama3") {
    s.low_freq_factor = positive("low_freq_factor", -1.0);
    s.high_freq_factor = positive("high_freq_factor", -1.0);
    if (!(s.high_freq_factor > s.low_freq_factor))
      throw Error(what + ": \"" + key + ".high_freq_factor\" must be greater than low_freq_factor");
  }
  if (s.type == "yarn") {
    s.beta_fast = number("beta_fast", 0.0) ? number("beta_fast", 0.0) : 32.0;  // 0 or null: the default
    s.beta_slow = number("beta_slow", 0.0) ? number("beta_slow", 0.0) : 1.0;
    s.mscale = number("mscale", 0.0);
    s.mscale_all_dim = number("mscale_all_dim", 0.0);
    if (has("truncate")) s.truncate = json_bool(r, "truncate", w);
  }
  if (s.type == "yarn" || s.type == "longrope") s.attention_factor = number("attention_factor", 0.0);
  if (s.type == "longrope") {
    for (auto [k, out] : {std::pair{"short_factor", &s.short_factor}, std::pair{"long_factor", &s.long_factor}}) {
      const JsonValue& a = json_member(r, k, w);
      if (!a.is_array()) throw Error(what + ": \"" + key + "." + k + "\" must be an array of numbers");
      for (const JsonValue& e : a.array) {
        if (!e.is_number() || !(e.number > 0.0))
          throw Error(what + ": \"" + key + "." + k + "\" must hold positive numbers");
        out->push_back(e.number);
      }
    }
  }
  return s;
}

}  // namespace sqsim
