#pragma once
// How the reports spell things: one function per kind of cell.
//   CSV:     csv_quote (RFC 4180: quoted when it holds , " \r or \n)
//   LaTeX:   tex_escape (_ % & # $ { } escaped)
//   JSON:    json_quote in sim/formats/json.h (the parser's counterpart), used
//            by JsonWriter (json_writer.h)
//   numbers: significant (%.<N>g), fixed (%.<N>f), exact (%.17g: reads back
//            to the same double); inf, -inf and nan spelled out.
#include <string>

namespace sqsim::cli {

std::string csv_quote(const std::string& cell);
std::string tex_escape(const std::string& text);

// %.<digits>g: 9 in results.csv, 8 in the paper tables' CSV figures, 6 for
// perplexities and thresholds, 4 for relative errors in summaries.
std::string significant(double v, int digits);
// %.<decimals>f (SQNR in dB: 2).
std::string fixed(double v, int decimals);
// %.17g: the journal's numbers.
inline std::string exact(double v) { return significant(v, 17); }

}  // namespace sqsim::cli
