#include "experiments/cli.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/error.h"
#include "base/io.h"
#include "sim/formats/json.h"
#include "base/paths.h"
#include "experiments/journal.h"
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
      const std::string text = read_file(path, "--config file");
      std::istringstream lines(text);
      std::string line;
      for (int n = 1; std::getline(lines, line); ++n) refuse_placeholder(line, "--config " + path + ":" + std::to_string(n));
      std::istringstream in(text);
      po::store(po::parse_config_file(in, options), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(e.what());
  }
  expand_paths(vm);
  return true;
}

void add_run_options(po::options_description& d, bool engine) {
  d.add_options()("threads", po::value<int>()->default_value(0),
                  "worker threads (0 = all cores); results are the same for any count");
  if (!engine) return;
  d.add_options()("mode", po::value<std::string>()->default_value("integer"),
                  "integer (int8/int4 codes through the integer GEMM) or fake-quant (float emulation)")(
      "kernel", po::value<std::string>()->default_value("auto"), "integer GEMM path: auto, reference, avx2, avx512-vnni, amx");
}

RunOptions run_options(const po::variables_map& vm) {
  RunOptions r;
  r.threads = vm["threads"].as<int>();
  if (r.threads < 0 || r.threads > 1024)
    throw Error("--threads " + std::to_string(r.threads) + ": expected 0 (all cores) to 1024");
  if (vm.count("mode")) {
    r.mode = kernels::parse_emulation_mode(vm["mode"].as<std::string>());
    r.kernel = kernels::parse_kernel_path(vm["kernel"].as<std::string>());
    kernels::resolve_kernel_path(r.kernel);  // refuse an unavailable path before any work
  }
  return r;
}

void add_output_options(po::options_description& d, const std::string& out_help, bool resumable, bool optional) {
  auto out = po::value<std::string>();
  if (!optional) out->required();
  d.add_options()("out", out, out_help.c_str())("force", po::bool_switch(), "overwrite an existing --out");
  if (resumable)
    d.add_options()("resume", po::bool_switch(),
                    "finish an interrupted run in --out: what its journal holds is not computed again");
}

OutputOptions output_options(const po::variables_map& vm) {
  OutputOptions o;
  if (vm.count("out")) o.out = vm["out"].as<std::string>();
  o.force = vm["force"].as<bool>();
  o.resume = vm.count("resume") && vm["resume"].as<bool>();
  if (o.resume && o.force) throw Error("--resume and --force: choose one");
  return o;
}

namespace {

// The value as JSON text, or empty for types no option of sqsim has.
std::string json_value(const boost::any& v) {
  if (auto s = boost::any_cast<std::string>(&v)) return json_quote(*s);
  if (auto i = boost::any_cast<int>(&v)) return std::to_string(*i);
  if (auto l = boost::any_cast<long>(&v)) return std::to_string(*l);
  if (auto b = boost::any_cast<bool>(&v)) return *b ? "true" : "false";
  if (auto u = boost::any_cast<unsigned long long>(&v)) return std::to_string(*u);
  if (auto f = boost::any_cast<float>(&v)) return std::to_string(*f);
  if (auto d = boost::any_cast<double>(&v)) return std::to_string(*d);
  return {};
}

}  // namespace

std::string option_settings(const po::variables_map& vm, const std::vector<std::string>& skip) {
  std::string out;
  for (const auto& [name, v] : vm) {
    if (name == "config" || std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    const std::string value = json_value(v.value());
    if (!value.empty()) out += name + "=" + value + (v.defaulted() ? std::string(kDefaultMark) : "") + "\n";
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> option_values_json(const po::variables_map& vm) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, v] : vm) {
    const std::string value = json_value(v.value());
    if (!value.empty()) out.emplace_back(name, value);
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
