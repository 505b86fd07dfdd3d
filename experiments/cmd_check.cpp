// sqsim check: regression check of quantization error against a stored baseline.
#include <cstdio>
#include <iostream>
#include <map>

#include "experiments/cli.h"
#include "experiments/commands.h"
#include "experiments/csv.h"
#include "base/error.h"

namespace sqsim::cli {

int run_check(int argc, char** argv) {
  po::options_description o("check");
  o.add_options()("baseline", po::value<std::string>()->required(), "stored results.csv")(
      "results", po::value<std::string>()->required(), "new results.csv")(
      "tolerance", po::value<double>()->default_value(0.0),
      "allowed relative growth of each error: fail when new > baseline * (1 + T)");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: sqsim check --baseline OLD.csv --results NEW.csv [--tolerance T]\n\n"
             "Compares output_rel_err, weight_rel_err and act_rel_err row by row (rows matched on\n"
             "layer, alpha, bits, granularities and act_scale). Exits 1 and lists the rows when an\n"
             "error grew by more than the tolerance or a baseline row is missing; exits 0 otherwise.",
             o, vm))
    return 0;
  const double tol = vm["tolerance"].as<double>();
  if (!(tol >= 0)) throw Error("--tolerance: expected a non-negative number");
  const std::string bpath = vm["baseline"].as<std::string>(), rpath = vm["results"].as<std::string>();
  const CsvTable base = read_csv(bpath), fresh = read_csv(rpath);
  const char* key_cols[] = {"layer", "alpha", "w_bits", "a_bits", "w_granularity", "a_granularity", "act_scale"};
  const char* metric_cols[] = {"output_rel_err", "weight_rel_err", "act_rel_err"};
  auto key_of = [&](const CsvTable& t, const std::vector<std::string>& r, const std::string& file) {
    std::string k;
    for (const char* c : key_cols) k += r[t.column(c, file)] + ",";
    return k;
  };
  std::map<std::string, const std::vector<std::string>*> by_key;
  for (const auto& r : fresh.rows) by_key[key_of(fresh, r, rpath)] = &r;
  const size_t status_b = base.column("status", bpath), status_n = fresh.column("status", rpath);
  int failures = 0;
  for (const auto& r : base.rows) {
    const std::string key = key_of(base, r, bpath);
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      std::cout << "missing: " << key << "\n";
      ++failures;
      continue;
    }
    const auto& n = *it->second;
    if (r[status_b] != n[status_n]) {
      std::cout << "status changed: " << key << " '" << r[status_b] << "' -> '" << n[status_n] << "'\n";
      ++failures;
      continue;
    }
    if (r[status_b] != "ok") continue;
    for (const char* m : metric_cols) {
      const double old_v = std::stod(r[base.column(m, bpath)]), new_v = std::stod(n[fresh.column(m, rpath)]);
      if (new_v > old_v * (1.0 + tol) + 1e-12) {
        std::printf("worse: %s %s %.9g -> %.9g (+%.3g%%)\n", key.c_str(), m, old_v, new_v,
                    old_v > 0 ? 100.0 * (new_v / old_v - 1.0) : 100.0);
        ++failures;
      }
    }
  }
  std::cout << base.rows.size() << " baseline rows compared, " << failures << " regression(s)\n";
  return failures ? 1 : 0;
}

}  // namespace sqsim::cli
