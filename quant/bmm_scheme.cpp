#include "quant/bmm_scheme.h"

#include "base/error.h"
#include "base/str.h"

namespace sqsim {

namespace {

template <class E>
struct Named {
  const char* name;
  E value;
};

const Named<BmmPoint> kPoints[] = {{"projection", BmmPoint::kProjection}, {"rope", BmmPoint::kRope}};
const Named<BmmGranularity> kGranularities[] = {{"tensor", BmmGranularity::kTensor},
                                                {"head", BmmGranularity::kHead},
                                                {"token", BmmGranularity::kToken},
                                                {"token-head", BmmGranularity::kTokenHead}};
const Named<ProbFormat> kProbFormats[] = {{"s8", ProbFormat::kSigned8}, {"u8", ProbFormat::kUnsigned8}};

template <class E, size_t N>
E parse_named(const Named<E> (&table)[N], const std::string& s, const std::string& option) {
  std::string names;
  for (const Named<E>& n : table) {
    if (s == n.name) return n.value;
    names += (names.empty() ? "" : ", ") + std::string(n.name);
  }
  throw Error(option + " '" + s + "': expected one of " + names);
}

template <class E, size_t N>
std::string name_of(const Named<E> (&table)[N], E value) {
  for (const Named<E>& n : table)
    if (n.value == value) return n.name;
  return "?";
}

BmmScheme scheme(const char* name, bool q, bool k, bool v, bool p, BmmPoint point, BmmGranularity g) {
  BmmScheme s;
  s.name = name;
  s.q = q;
  s.k = k;
  s.v = v;
  s.p = p;
  s.point = point;
  s.granularity = g;
  return s;
}

// The schemes, in help order (docs/quantization.md, "Attention BMMs").
const Named<BmmScheme (*)()> kSchemes[] = {
    {"off", [] { return BmmScheme(); }},
    {"int8-real",
     [] { return scheme("int8-real", true, true, true, true, BmmPoint::kRope, BmmGranularity::kHead); }},
    {"mit-fake",
     [] { return scheme("mit-fake", true, true, true, false, BmmPoint::kProjection, BmmGranularity::kToken); }},
};

}  // namespace

std::vector<std::string> bmm_scheme_names() {
  std::vector<std::string> names;
  for (const auto& s : kSchemes) names.push_back(s.name);
  return names;
}

BmmScheme bmm_scheme(const std::string& name, const std::string& option) {
  std::string names;
  for (const auto& s : kSchemes) {
    if (name == s.name) return s.value();
    names += (names.empty() ? "" : ", ") + std::string(s.name);
  }
  throw Error(option + " '" + name + "': unknown attention BMM scheme; expected one of " + names);
}

BmmPoint parse_bmm_point(const std::string& s, const std::string& option) { return parse_named(kPoints, s, option); }
BmmGranularity parse_bmm_granularity(const std::string& s, const std::string& option) {
  return parse_named(kGranularities, s, option);
}
ProbFormat parse_prob_format(const std::string& s, const std::string& option) {
  return parse_named(kProbFormats, s, option);
}

void parse_bmm_operands(const std::string& s, const std::string& option, BmmScheme& scheme) {
  scheme.q = scheme.k = scheme.v = scheme.p = false;
  if (s == "none") return;
  for (const std::string& op : split_list(s, option)) {
    bool* flag = op == "q" ? &scheme.q : op == "k" ? &scheme.k : op == "v" ? &scheme.v : op == "p" ? &scheme.p : nullptr;
    if (!flag) throw Error(option + " '" + s + "': '" + op + "' is not an operand; expected q, k, v, p or none");
    if (*flag) throw Error(option + " '" + s + "': '" + op + "' given twice");
    *flag = true;
  }
}

std::string bmm_point_name(BmmPoint p) { return name_of(kPoints, p); }
std::string bmm_granularity_name(BmmGranularity g) { return name_of(kGranularities, g); }
std::string prob_format_name(ProbFormat f) { return name_of(kProbFormats, f); }

void BmmScheme::validate() const {
  if (bits < 2 || bits > 8) throw Error(str("--bmm-bits ", bits, ": expected 2..8"));
  // int8-real is the int8 kernels' scheme: its operands are int8 by definition.
  if (name == "int8-real" && bits != 8)
    throw Error(str("--bmm-bits ", bits, ": --bmm int8-real quantizes to int8 (8 bits); use mit-fake or "
                    "--bmm-operands to build a scheme with fewer bits"));
}

std::string BmmScheme::describe() const {
  if (!enabled()) return "off";
  std::string ops;
  for (auto [on, n] : {std::pair{q, "q"}, {k, "k"}, {v, "v"}, {p, "p"}})
    if (on) ops += (ops.empty() ? "" : ",") + std::string(n);
  std::string d = name + ": " + ops;
  if (q || k || v)
    d += str(point == BmmPoint::kProjection ? " before RoPE" : " after RoPE", " per ",
             bmm_granularity_name(granularity), ", ", bits, " bits");
  if (p) d += ", P " + prob_format_name(p_format);
  return d;
}

QuantSpec BmmScheme::operand_spec() const {
  QuantSpec s;
  s.bits = bits;
  s.symmetric = true;
  s.granularity = granularity == BmmGranularity::kToken || granularity == BmmGranularity::kTokenHead
                      ? Granularity::kPerRow
                      : Granularity::kPerTensor;
  return s;
}

QuantSpec BmmScheme::p_spec() const {
  QuantSpec s;
  s.bits = 8;
  s.symmetric = p_format == ProbFormat::kSigned8;
  s.granularity = Granularity::kPerTensor;
  s.source = ScaleSource::kStatic;
  return s;
}

float BmmScheme::p_scale() const { return p_format == ProbFormat::kSigned8 ? 1.0f / 127.0f : 1.0f / 255.0f; }

}  // namespace sqsim
