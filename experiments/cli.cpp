#include "experiments/cli.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/error.h"
#include "base/paths.h"
#include "quant/smoothing.h"

namespace sqsim::cli {

namespace {

// Boost.Program_options formats its error messages by replacing placeholders
// such as %value%, %canonical_option% or %invalid_line% with the offending
// text, repeating until none is left: text that itself contains the
// placeholder makes what() loop forever (found by tests/fuzz/fuzz_config.cpp).
// Such text is refused before Boost sees it. Returns the offset of the first
// "%word%" (lower-case letters and '_'), or npos.
size_t find_placeholder(const std::string& text) {
  for (size_t open = text.find('%'); open != std::string::npos; open = text.find('%', open + 1)) {
    size_t k = open + 1;
    while (k < text.size() && ((text[k] >= 'a' && text[k] <= 'z') || text[k] == '_')) ++k;
    if (k > open + 1 && k < text.size() && text[k] == '%') return open;
  }
  return std::string::npos;
}

void refuse_placeholder(const std::string& text, const std::string& where) {
  const size_t at = find_placeholder(text);
  if (at == std::string::npos) return;
  const size_t end = text.find('%', at + 1);
  throw Error(where + ": '" + text.substr(at, end - at + 1) +
              "' is not accepted in options (text of the form %word% is reserved by the option parser)");
}

// Every text option, defaults included, with ${SQSIM_DATA} / ${SQSIM_MODELS}
// expanded (base/paths.h): the one place where paths stop depending on them.
void expand_paths(po::variables_map& vm) {
  for (auto& entry : vm) {
    boost::any& value = entry.second.value();
    if (auto* text = boost::any_cast<std::string>(&value)) *text = expand_path(*text);
    if (auto* list = boost::any_cast<std::vector<std::string>>(&value))
      for (std::string& text : *list) text = expand_path(text);
  }
}

}  // namespace

bool parse(int argc, char** argv, const std::string& usage, const po::options_description& options,
           po::variables_map& vm) {
  po::options_description all("Options");
  all.add_options()("help,h", "show this help and exit")(
      "config", po::value<std::string>(), "read options from FILE (lines 'name = value', same names as here; "
                                          "the command line wins)");
  all.add(options);
  for (int i = 1; i < argc; ++i) refuse_placeholder(argv[i], "argument " + std::to_string(i));
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << all << "\n"
                << "Paths may start with ${SQSIM_DATA} (now " << data_dir() << ") or ${SQSIM_MODELS} (now "
                << models_dir() << "); set those environment variables to move them.\n";
      return false;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) throw Error("--config " + path + ": cannot open the file");
      std::stringstream text;
      text << file.rdbuf();
      std::istringstream lines(text.str());
      std::string line;
      for (int n = 1; std::getline(lines, line); ++n) refuse_placeholder(line, "--config " + path + ":" + std::to_string(n));
      std::istringstream in(text.str());
      po::store(po::parse_config_file(in, options), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(e.what());
  }
  expand_paths(vm);
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
