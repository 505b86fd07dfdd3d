// `sqsim sensitivity` (experiments/sensitivity.h): units by layer, group and
// block, the journal record, and a run on a tiny synthetic OPT model with one
// block whose 4-bit weights are exact (KL 0 when quantized alone) and one with
// planted weight outliers (ranked first); the CLI's bad-input one-liners.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "kernels/sgemm.h"
#include "base/error.h"
#include "experiments/run_options.h"
#include "experiments/sensitivity.h"
#include "hf_fixtures.h"
#include "run_sqsim.h"

using namespace sqsim;
using namespace sqsim::cli;

namespace {

const std::vector<std::string> kLayers = {
    "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
    "model.layers.0.self_attn.o_proj", "model.layers.0.mlp.gate_proj",   "model.layers.0.mlp.up_proj",
    "model.layers.0.mlp.down_proj",    "model.layers.1.self_attn.q_proj", "lm_head"};

std::vector<std::string> names(const std::vector<SensitivityUnit>& units) {
  std::vector<std::string> n;
  for (const SensitivityUnit& u : units) n.push_back(u.name + ":" + std::to_string(u.layers.size()));
  return n;
}

}  // namespace

TEST(Sensitivity, UnitsByLayerGroupAndBlock) {
  EXPECT_EQ(names(sensitivity_units(kLayers, "block")),
            (std::vector<std::string>{"model.layers.0:7", "model.layers.1:1", "lm_head:1"}));
  EXPECT_EQ(names(sensitivity_units(kLayers, "group")),
            (std::vector<std::string>{"model.layers.0.self_attn.qkv:3", "model.layers.0.self_attn.o_proj:1",
                                      "model.layers.0.mlp.gate_up:2", "model.layers.0.mlp.down_proj:1",
                                      "model.layers.1.self_attn.qkv:1", "lm_head:1"}));
  EXPECT_EQ(sensitivity_units(kLayers, "layer").size(), kLayers.size());
  try {
    sensitivity_units(kLayers, "head");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--unit 'head': expected layer, group or block");
  }
}

TEST(Sensitivity, ScoreRecordRoundTrips) {
  SensitivityScore s;
  s.kl.kl = {0.1 / 3, 1e-3 / 7, 100};
  s.kl.median = 0.02;
  s.kl.p99 = 0.9;
  s.kl.max = 3.25;
  s.kl.same_top1 = {0.93, 0.01, 100};
  s.kl.tokens = 100;
  s.ppl = {27.5, 0.3, 100};
  s.seconds = 1.5;
  const SensitivityScore b = score_from_fields(score_fields(s), "j");
  EXPECT_EQ(b.kl.kl.mean, s.kl.kl.mean);
  EXPECT_EQ(b.kl.kl.stderr_, s.kl.kl.stderr_);
  EXPECT_EQ(b.kl.max, s.kl.max);
  EXPECT_EQ(b.ppl.stderr_, s.ppl.stderr_);
  EXPECT_EQ(b.kl.tokens, 100u);
  std::vector<std::string> f = score_fields(s);
  f.pop_back();
  EXPECT_THROW(score_from_fields(f, "j"), Error);
}

TEST(Sensitivity, ExactBlockScoresZeroAndThePlantedBlockRanksFirst) {
  using namespace sqsim_test;
  OptDims d;
  d.hidden = 64;
  d.ffn = 128;
  d.layers = 3;
  d.max_pos = 32;
  Weights w = opt_weights(d, 5);
  Rng r(9);
  for (auto& [name, t] : w) {
    if (t.shape.size() != 2 || name.find(".layers.") == std::string::npos) continue;
    const size_t rows = t.shape[0], cols = t.shape[1];
    if (name.find(".layers.0.") != std::string::npos) {
      // k/8 with k in [-8, 7], each group of 64 holding -1 and 7/8: asymmetric
      // 4-bit groups of 64 represent every value exactly (scale 1/8, zero 8).
      std::uniform_int_distribution<int> k(-8, 7);
      for (size_t i = 0; i < rows * cols; ++i) t.v[i] = float(k(r.g)) / 8.0f;
      for (size_t i = 0; i < rows; ++i)
        for (size_t g = 0; g < cols; g += 64) {
          t.v[i * cols + g] = -1.0f;
          t.v[i * cols + g + 1] = 0.875f;
        }
    } else if (name.find(".layers.2.") != std::string::npos) {
      // One large weight per group: the other 63 collapse to a few levels.
      for (size_t i = 0; i < rows; ++i)
        for (size_t g = 0; g < cols; g += 64) t.v[i * cols + g] = 12.0f;
    }
  }
  const std::string dir = temp_dir("sensitivity");
  write_text(dir + "/config.json", opt_config(d));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, "null"));
  write_weights(dir, w, "F32");
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the quick brown fox " + std::to_string(i * 7) + " jumps. ";
  write_text(dir + "/text.txt", text);

  SensitivityJob job;
  job.eval.model_path = dir;
  job.eval.quiet = true;
  job.threads = 1;
  job.text = dir + "/text.txt";
  job.seq_len = 32;
  job.max_tokens = 128;
  job.config = preset_config("w4a16-g64");
  job.preset_lines = "preset = w4a16-g64\n";
  job.unit = "block";
  job.output.out = dir + "/out";
  job.command = "test";
  ASSERT_EQ(run_sensitivity_job(job), 0);
  const std::string csv = slurp(dir + "/out/sensitivity.csv");
  std::istringstream in(csv);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::istringstream cs(line);
    for (std::string c; std::getline(cs, c, ',');) cells.push_back(c);
    rows.push_back(cells);
  }
  ASSERT_EQ(rows.size(), 4u) << csv;  // header + 3 blocks
  EXPECT_EQ(rows[1][1], "model.decoder.layers.2") << csv;  // the planted block first
  EXPECT_EQ(rows[3][1], "model.decoder.layers.0") << csv;  // the exact block last
  // The journal holds the exact numbers: the exact block alone moves nothing.
  const std::string journal = slurp(dir + "/out/journal.txt");
  const size_t at = journal.find("only|model.decoder.layers.0\t");
  ASSERT_NE(at, std::string::npos) << journal;
  const double kl0 = std::stod(journal.substr(journal.find('\t', at) + 1));
  EXPECT_LT(kl0, 1e-9) << journal;
  const size_t at2 = journal.find("only|model.decoder.layers.2\t");
  EXPECT_GT(std::stod(journal.substr(journal.find('\t', at2) + 1)), 1e-3) << journal;
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/sensitivity.svg"));

  // --resume measures nothing again: same table.
  job.output.resume = true;
  ASSERT_EQ(run_sensitivity_job(job), 0);
  EXPECT_EQ(slurp(dir + "/out/sensitivity.csv"), csv);

  // Mixed precision: an unreachable KL keeps the planted block float first,
  // then the next; a loose one is met with everything quantized.
  job.target_kl = 1e-300;
  ASSERT_EQ(run_sensitivity_job(job), 0);
  const std::string md = slurp(dir + "/out/mixed_precision.md");
  EXPECT_NE(md.find("| 1 | model.decoder.layers.2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 | model.decoder.layers.1 |"), std::string::npos) << md;
  // W4A16 is the float GEMM's FMA chain on exactly dequantized weights
  // (docs/quantization.md): where the float model runs that same GEMM (the
  // AVX-512 sgemm path), the exact block quantized changes no bit, so KL 0
  // meets even this target with it quantized; elsewhere (Eigen's float GEMM)
  // the orders differ and the target stays out of reach.
  const std::string block0 =
      "model.decoder.layers.0.self_attn.q_proj,model.decoder.layers.0.self_attn.k_proj,"
      "model.decoder.layers.0.self_attn.v_proj,model.decoder.layers.0.self_attn.out_proj,"
      "model.decoder.layers.0.fc1,model.decoder.layers.0.fc2\n";
  EXPECT_EQ(slurp(dir + "/out/mixed_precision.layers"), kernels::sgemm_avx512_available() ? block0 : "")
      << "reached with the exact block only on the AVX-512 float GEMM";
  job.target_kl = 10.0;
  ASSERT_EQ(run_sensitivity_job(job), 0);
  const std::string layers = slurp(dir + "/out/mixed_precision.layers");
  EXPECT_EQ(std::count(layers.begin(), layers.end(), ','), 17) << layers;  // 3 blocks x 6 layers
  // The same result as a preset file: the job's preset lines, then the layers.
  const std::string preset = slurp(dir + "/out/mixed_precision.preset");
  EXPECT_NE(preset.find("(targets reached)"), std::string::npos) << preset;
  EXPECT_NE(preset.find(job.preset_lines + "layers = " + layers), std::string::npos) << preset;
  std::filesystem::remove_all(dir);
}

TEST(Sensitivity, BadOptionsAreOneLineErrors) {
  const std::pair<std::string, std::string> cases[] = {
      {"sensitivity --quant sq-o3 --unit head --out /tmp/x", "--unit 'head': expected layer, group or block"},
      {"sensitivity --quant fp --out /tmp/x", "--quant fp: quantizes nothing"},
      {"sensitivity --quant sq-o3 --out /tmp/x --max-tokens 10 --seq-len 512",
       "--max-tokens must hold at least one window"},
      {"sensitivity --quant nope --out /tmp/x", "nope"},
      {"sensitivity --quant sq-o3 --out /tmp/x --target-ppl-ratio 0.5", "--target-ppl-ratio must be >= 1"},
      {"sensitivity --quant sq-o3 --out /tmp/x --keep 8bit", "--keep 8bit: --quant sq-o3 has no weights below 8 bits"},
      {"sensitivity --quant w4a16-g128 --out /tmp/x --keep half", "--keep 'half': expected float or 8bit"},
  };
  for (const auto& [args, expected] : cases) {
    const CliRun r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find(expected), std::string::npos) << args << ": " << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << args << ": " << r.out;
  }
}
