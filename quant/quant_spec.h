#pragma once
// What a quantizer does, as data: bits, symmetry, granularity, scale source,
// rounding and the peer-compatibility variants. docs/quantization.md defines
// every field; parse_* functions turn the CLI/config spellings into it.
#include <cstdint>
#include <string>

namespace sqsim {

// How elements share a scale, in matrix terms (cols = the reduction dim K).
enum class Granularity {
  kPerTensor,  // one scale
  kPerRow,     // activations: per token; weights: per output channel
  kPerColumn,  // activations: per input channel (fake-quant only)
  kPerGroup,   // per row, in groups of group_size consecutive columns
};

// The role decides what "per-channel" means and which names are allowed.
enum class TensorRole { kActivation, kWeight };

enum class Rounding { kHalfEven, kHalfAwayFromZero, kStochastic };

// How a symmetric scale is derived from absmax (docs/quantization.md, "Scale rule").
enum class ScaleRule { kReference, kHalfRange, kReciprocal };

enum class ClampRange { kFull, kNarrow };

enum class ScaleSource { kDynamic, kStatic };

struct QuantSpec {
  int bits = 8;  // 2..8; 16 means "not quantized"
  bool symmetric = true;
  Granularity granularity = Granularity::kPerTensor;
  int group_size = 0;  // only for kPerGroup
  ScaleSource source = ScaleSource::kDynamic;
  Rounding rounding = Rounding::kHalfEven;
  ScaleRule scale_rule = ScaleRule::kReference;
  ClampRange clamp = ClampRange::kFull;
  uint64_t seed = 0;  // stochastic rounding only

  bool enabled() const { return bits != 16; }
  int qmin() const;
  int qmax() const;
  // Throws sqsim::Error naming the offending field; `what` prefixes the message.
  void validate(const std::string& what) const;
  // Throws unless the granularity can be applied to a [rows, cols] matrix.
  void validate_shape(long rows, long cols, const std::string& what) const;
  // Groups of one row: ceil(cols / group_size). When group_size does not
  // divide the row (SmolLM2's 576 with groups of 128 or 256) the last group is
  // narrower (docs/quantization.md, "Granularity").
  long groups_per_row(long cols) const { return (cols + group_size - 1) / group_size; }
  // Number of scale/zero-point pairs for a [rows, cols] matrix.
  long num_params(long rows, long cols) const;
  // The parameter index of element (r, c).
  long param_index(long r, long c, long cols) const {
    switch (granularity) {
      case Granularity::kPerTensor: return 0;
      case Granularity::kPerRow: return r;
      case Granularity::kPerColumn: return c;
      case Granularity::kPerGroup: return r * groups_per_row(cols) + c / group_size;
    }
    return 0;
  }
};

// "per-tensor", "per-token", "per-channel", "group64", "group<G>" -> spec fields.
void parse_granularity(const std::string& name, TensorRole role, QuantSpec& spec);
std::string granularity_name(const QuantSpec& spec, TensorRole role);
Rounding parse_rounding(const std::string& name);
std::string rounding_name(Rounding r);
ScaleRule parse_scale_rule(const std::string& name);
std::string scale_rule_name(ScaleRule r);
ClampRange parse_clamp(const std::string& name);
ScaleSource parse_scale_source(const std::string& name);
std::string scale_source_name(ScaleSource s);
// Bits: an integer 2..8, or 16 for "no quantization".
int parse_bits(const std::string& text, const std::string& option);

}  // namespace sqsim
