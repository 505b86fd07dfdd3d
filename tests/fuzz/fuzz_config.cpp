// libFuzzer harness: arbitrary bytes as a --config file (experiments/cli.h),
// with options of every value type the subcommands use; the list options are
// then expanded the way the sweep does. Any sqsim::Error is a correct refusal.
#include <cstdint>
#include <string>

#include "experiments/cli.h"
#include "base/error.h"
#include "tests/fuzz/fuzz_util.h"

namespace po = boost::program_options;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sqsim::fuzz::scratch_path("config.cfg");
  sqsim::fuzz::write_bytes(path, data, size);
  po::options_description o("fuzz");
  o.add_options()("traces", po::value<std::string>(), "")("alpha", po::value<std::string>()->default_value("none"), "")(
      "w-bits", po::value<std::string>()->default_value("8"), "")("layers", po::value<std::string>(), "")(
      "threads", po::value<int>()->default_value(1), "")("max-tokens", po::value<long>()->default_value(0), "")(
      "seed", po::value<unsigned long long>()->default_value(0), "")(
      "w-symmetric", po::value<bool>()->default_value(true), "")("resume", po::bool_switch(), "")(
      "scale", po::value<double>()->default_value(1.0), "");
  std::string a0 = "fuzz", a1 = "--config";
  char* argv[] = {a0.data(), a1.data(), const_cast<char*>(path.c_str()), nullptr};
  try {
    po::variables_map vm;
    if (sqsim::cli::parse(3, argv, "usage", o, vm)) {
      sqsim::cli::expand_alpha_list(vm["alpha"].as<std::string>(), "--alpha");
      sqsim::cli::split_list(vm["w-bits"].as<std::string>(), "--w-bits");
      if (vm.count("layers")) sqsim::cli::split_list(vm["layers"].as<std::string>(), "--layers");
    }
  } catch (const sqsim::Error&) {
  }
  return 0;
}
