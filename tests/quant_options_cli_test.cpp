// Bad values of the LLM.int8(), observer and calibration options of `sqsim
// ppl`: each is one error line naming the option, with a non-zero exit.
#include <gtest/gtest.h>

#include <string>

#include "tests/real_data.h"
#include "tests/run_sqsim.h"

namespace {

// The lines of the output that report an error.
int error_lines(const std::string& out) {
  int n = 0;
  for (size_t at = out.find("error:"); at != std::string::npos; at = out.find("error:", at + 1)) ++n;
  return n;
}

void expect_one_line_error(const std::string& args, const std::string& option) {
  const CliRun r = run(args);
  EXPECT_NE(r.status, 0) << args;
  EXPECT_EQ(error_lines(r.out), 1) << args << ": " << r.out;
  const size_t at = r.out.find("error:");
  ASSERT_NE(at, std::string::npos) << args << ": " << r.out;
  const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  EXPECT_NE(line.find(option), std::string::npos) << args << ": " << line;
}

// Refused while the options are read, before the model is loaded.
TEST(QuantOptionsCli, BadThresholdPercentileAndObserverNameTheOption) {
  for (const char* t : {"0", "-1", "nan", "inf"})
    expect_one_line_error(std::string("ppl --quant llm-int8 --llm-int8-threshold ") + t, "--llm-int8-threshold");
  expect_one_line_error("ppl --quant sq-llm-int8 --llm-int8-threshold -0.5", "--llm-int8-threshold");
  for (const char* p : {"0", "-3", "100.5", "nan", "abc", ""})
    expect_one_line_error(std::string("ppl --quant sq-o3 --observer percentile:") + p, "--observer");
  for (const char* o : {"bogus", "max", "kl"})
    expect_one_line_error(std::string("ppl --quant sq-o3 --observer ") + o, "--observer");
  expect_one_line_error("ppl --quant sq-o1 --observer mse", "--observer");
  expect_one_line_error("ppl --quant sq-o3 --observer-bins 100", "--observer-bins");
  expect_one_line_error("ppl --quant fp --llm-int8-threshold 3", "--llm-int8-threshold");
  expect_one_line_error("ppl --quant outlier-suppression --token-clip-quantile 1.5", "--token-clip-quantile");
}

// Static scales (and smoothing, and Outlier Suppression's clips) need
// calibration text: refused naming --calib-text when it is empty.
TEST(QuantOptionsCli, StaticScalesWithoutCalibrationTextNameCalibText) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(sqsim_test::kWiki))
    GTEST_SKIP() << "model or WikiText-2 absent";
  for (const char* q : {"sq-o3", "outlier-suppression", "sq-llm-int8"})
    expect_one_line_error(std::string("ppl --quant ") + q + " --calib-text '' --max-tokens 64 --seq-len 32 --model " +
                              sqsim_test::kModel + " --text " + sqsim_test::kWiki,
                          "--calib-text");
}

}  // namespace
