#pragma once
// How the two weightless matmuls of attention (Q·Kᵀ and P·V) are quantized,
// as data: which operands, where Q and K are taken (before or after RoPE),
// the granularity of Q, K and V, and the format of the probabilities. The
// named schemes (`--bmm NAME`) and every field: docs/quantization.md,
// "Attention BMMs". sim/models/quantized_attention.h carries them out.
#include <string>
#include <vector>

#include "quant/quant_spec.h"

namespace sqsim {

enum class BmmPoint {
  kProjection,  // the q/k/v projection outputs, before RoPE
  kRope,        // Q and K after RoPE, inside attention
};

enum class BmmGranularity {
  kTensor,     // one scale for the whole [T, heads*d] matrix
  kHead,       // one scale per head [T, d]
  kToken,      // one scale per row of the whole matrix (all heads)
  kTokenHead,  // one scale per row of each head
};

enum class ProbFormat {
  kSigned8,    // codes 0..127, step 1/127 (an int8 operand)
  kUnsigned8,  // codes 0..255, step 1/255
};

struct BmmScheme {
  std::string name = "off";  // the scheme it started from (overrides keep it)
  bool q = false, k = false, v = false, p = false;
  BmmPoint point = BmmPoint::kRope;
  BmmGranularity granularity = BmmGranularity::kHead;
  ProbFormat p_format = ProbFormat::kSigned8;
  int bits = 8;  // of Q, K and V (symmetric, dynamic)

  bool enabled() const { return q || k || v || p; }
  // Throws sqsim::Error naming the option on an impossible combination.
  void validate() const;
  // "int8-real: q,k,v,p after RoPE per head, 8 bits, P s8"; "off".
  std::string describe() const;
  // The quantizer of Q, K and V: symmetric, bits, per tensor (kTensor, kHead)
  // or per row (kToken, kTokenHead), dynamic.
  QuantSpec operand_spec() const;
  // The probabilities' quantizer and its fixed scale (1/127 or 1/255, zero point 0).
  QuantSpec p_spec() const;
  float p_scale() const;
};

std::vector<std::string> bmm_scheme_names();
// Throws sqsim::Error naming `option` and listing the names when unknown.
BmmScheme bmm_scheme(const std::string& name, const std::string& option = "--bmm");

// Parsers of the override options; each error names `option`.
BmmPoint parse_bmm_point(const std::string& s, const std::string& option);
BmmGranularity parse_bmm_granularity(const std::string& s, const std::string& option);
ProbFormat parse_prob_format(const std::string& s, const std::string& option);
// "q,k,v,p" (any subset, any order) or "none" into the scheme's operand flags.
void parse_bmm_operands(const std::string& s, const std::string& option, BmmScheme& scheme);

std::string bmm_point_name(BmmPoint p);
std::string bmm_granularity_name(BmmGranularity g);
std::string prob_format_name(ProbFormat f);

}  // namespace sqsim
