#include "experiments/cli.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "quant/error.h"
#include "quant/smoothing.h"

namespace sqsim::cli {

bool parse(int argc, char** argv, const std::string& usage, const po::options_description& options,
           po::variables_map& vm) {
  po::options_description all("Options");
  all.add_options()("help,h", "show this help and exit")(
      "config", po::value<std::string>(), "read options from FILE (lines 'name = value', same names as here; "
                                          "the command line wins)");
  all.add(options);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << all << "\n";
      return false;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw Error("--config " + path + ": cannot open the file");
      po::store(po::parse_config_file(in, options), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(e.what());
  }
  return true;
}

std::vector<std::string> split_list(const std::string& text, const std::string& option) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    if (item.empty()) throw Error(option + " '" + text + "': empty item in the list");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> expand_alpha_list(const std::string& text, const std::string& option) {
  std::vector<std::string> out;
  for (const std::string& item : split_list(text, option)) {
    const size_t c1 = item.find(':');
    if (c1 == std::string::npos) {
      out.push_back(alpha_name(parse_alpha(item, option)));
      continue;
    }
    const size_t c2 = item.find(':', c1 + 1);
    if (c2 == std::string::npos) throw Error(option + " '" + item + "': a range is start:stop:step");
    const Alpha start = parse_alpha(item.substr(0, c1), option);
    const Alpha stop = parse_alpha(item.substr(c1 + 1, c2 - c1 - 1), option);
    char* end = nullptr;
    const std::string step_text = item.substr(c2 + 1);
    const double step = std::strtod(step_text.c_str(), &end);
    if (!start || !stop || step_text.empty() || *end != '\0' || !(step > 0) || *stop < *start) {
      throw Error(option + " '" + item + "': expected start:stop:step with 0 <= start <= stop <= 1, step > 0");
    }
    // Values are computed as start + i*step (no accumulated error) and rounded
    // to 6 decimals so that 0:1:0.05 gives exactly 0.05, 0.1, ... 1.
    const long count = static_cast<long>(std::floor((*stop - *start) / step + 1e-6)) + 1;
    if (count > 100000) throw Error(option + " '" + item + "': more than 100000 values");
    for (long i = 0; i < count; ++i) {
      const double v = std::round((*start + i * step) * 1e6) / 1e6;
      out.push_back(alpha_name(static_cast<float>(std::min(v, 1.0))));
    }
  }
  return out;
}

}  // namespace sqsim::cli
