// Preset files (`--quant FILE`) and 8-bit weights for chosen layers
// (--w8-layers): what a file says equals the same overrides on the command
// line, errors name the file and line, and a layer kept at 8 bits in a 4-bit
// preset is the layer of the 8-bit preset, bit for bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "base/error.h"
#include "experiments/model_quant_options.h"
#include "sim/eval/quantize_model.h"
#include "sim/models/load_model.h"
#include "tests/real_data.h"
#include "tests/run_sqsim.h"

using namespace sqsim;

namespace {

std::string write_preset(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "preset_" + std::to_string(getpid()) + "_" + name + ".preset";
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& text) {
  try {
    cli::preset_file_config(write_preset("bad", text));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(PresetFile, FileEqualsTheSameOverridesOnTheCommandLine) {
  const std::string path =
      write_preset("mixed", "# a comment\n\npreset = sqplus-g128\n  w-granularity = group64 \nw8-layers = *.down_proj\n"
                            "smooth-all = true\n");
  const ModelQuantConfig c = cli::preset_file_config(path);
  EXPECT_NE(c.name.find("mixed"), std::string::npos);
  EXPECT_EQ(c.describe(),
            "W: 4-bit asym group64; A: float; smoothing alpha=0.5 (all layers); 8-bit weights *.down_proj");
  EXPECT_EQ(c.w8_layers, "*.down_proj");
  EXPECT_TRUE(c.smooth_all);
}

TEST(PresetFile, ErrorsNameTheFileAndLine) {
  EXPECT_NE(error_of("preset = w4a16-g128\nfoo = 1\n").find(".preset:2: unknown key 'foo'"), std::string::npos);
  EXPECT_NE(error_of("preset = w4a16-g128\nquant = fp\n").find(":2: unknown key 'quant'"), std::string::npos);
  EXPECT_NE(error_of("preset = w4a16-g128\nw-bits 4\n").find(":2: expected 'name = value'"), std::string::npos);
  EXPECT_NE(error_of("w-bits = 4\n").find("no 'preset = NAME' line"), std::string::npos);
  EXPECT_NE(error_of("preset = nope\n").find("preset 'nope' is not a named preset"), std::string::npos);
  EXPECT_NE(error_of("preset = sq-o1\nw8-layers = *\n").find("has no weights below 8 bits to raise to 8"),
            std::string::npos);
  EXPECT_NE(error_of("preset = w4a16-g128\nw-bits = 99\n").find("--w-bits"), std::string::npos);
}

TEST(PresetFile, CommandLineErrorsAreOneLine) {
  const CliRun r = run("ppl --quant " + write_preset("cli", "preset = w4a16-g128\nbogus = 2\n"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("cli.preset:2: unknown key 'bogus'"), std::string::npos) << r.out;
  const CliRun missing = run("ppl --quant /nonexistent/x.preset");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.out.find("cannot read --quant preset file /nonexistent/x.preset"), std::string::npos)
      << missing.out;
  const CliRun unknown = run("ppl --quant sqplus-g12");  // neither a preset nor a file: the list
  EXPECT_NE(unknown.out.find("sqplus-g128"), std::string::npos) << unknown.out;
}

// A layer kept at 8 bits through --w8-layers is the 8-bit preset's layer,
// the others the 4-bit preset's, bit for bit.
TEST(PresetFileReal, EightBitLayersOfAFourBitPresetAreTheEightBitLayers) {
  if (!sqsim_test::exists(sqsim_test::kModel)) GTEST_SKIP() << "needs the model";
  LoadedModel mixed_m = load_model(sqsim_test::kModel), eight_m = load_model(sqsim_test::kModel),
              four_m = load_model(sqsim_test::kModel);
  const std::string layers = "model.layers.0.*,model.layers.5.*";
  ModelQuantConfig mixed = preset_config("w4a16-g128");
  mixed.layers = layers;
  mixed.w8_layers = "model.layers.0.*,model.layers.5.mlp.down_proj";
  ModelQuantConfig eight = preset_config("w4a16-g128");
  eight.layers = layers;
  eight.weight.bits = 8;
  ModelQuantConfig four = preset_config("w4a16-g128");
  four.layers = layers;
  QuantizeModelOptions o;
  quantize_model(*mixed_m.model, mixed, nullptr, o);
  quantize_model(*eight_m.model, eight, nullptr, o);
  quantize_model(*four_m.model, four, nullptr, o);
  int eights = 0;
  for (const std::string& n : mixed_m.model->linear_names()) {
    if (n == "lm_head" || (n.rfind("model.layers.0.", 0) != 0 && n.rfind("model.layers.5.", 0) != 0)) continue;
    const bool w8 = n.rfind("model.layers.0.", 0) == 0 || n == "model.layers.5.mlp.down_proj";
    const LinearLayer& want = w8 ? eight_m.model->linear(n) : four_m.model->linear(n);
    const MatrixF xin = MatrixF::Random(5, want.in_features());
    EXPECT_TRUE(mixed_m.model->linear(n).forward(xin) == want.forward(xin)) << n;
    EXPECT_FALSE(eight_m.model->linear(n).forward(xin) == four_m.model->linear(n).forward(xin)) << n;
    eights += w8;
  }
  EXPECT_EQ(eights, 8);
  ModelQuantConfig none = preset_config("w4a16-g128");
  none.w8_layers = "model.layers.99.*";
  LoadedModel fresh = load_model(sqsim_test::kModel);
  try {
    quantize_model(*fresh.model, none, nullptr, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--w8-layers 'model.layers.99.*': matches no quantized layer"),
              std::string::npos)
        << e.what();
  }
}
