// Weights kept in their checkpoint's 2-byte type (docs/memory.md): every
// product must have the bits of the model loaded as float32.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "kernels/sgemm.h"
#include "kernels/sgemm_pack_rows.h"
#include "base/error.h"
#include "sim/formats/gguf_dequant.h"
#include "sim/models/half_matrix.h"
#include "sim/models/hf_checkpoint.h"
#include "sim/models/linear_layer.h"
#include "sim/models/load_model.h"
#include "tests/hf_fixtures.h"

using namespace sqsim;
using namespace sqsim_test;

namespace {

bool same_bits(const MatrixF& a, const MatrixF& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0;
}

std::shared_ptr<HalfMatrix> random_half(long rows, long cols, HalfMatrix::Type type, unsigned seed) {
  Rng r(seed);
  auto h = std::make_shared<HalfMatrix>();
  h->rows = rows;
  h->cols = cols;
  h->type = type;
  for (const float v : r.normal(size_t(rows * cols), 0.5f))
    h->words.push_back(type == HalfMatrix::Type::kBf16 ? float_to_bf16(v) : float_to_fp16(v));
  return h;
}

// Sets SQSIM_WEIGHTS_IN_MEMORY for one scope and restores what was there.
class WeightsInMemory {
 public:
  explicit WeightsInMemory(const char* value) {
    if (const char* old = std::getenv(kVar)) old_ = old, had_ = true;
    if (value) setenv(kVar, value, 1);
    else unsetenv(kVar);
  }
  ~WeightsInMemory() {
    if (had_) setenv(kVar, old_.c_str(), 1);
    else unsetenv(kVar);
  }

 private:
  static constexpr const char* kVar = "SQSIM_WEIGHTS_IN_MEMORY";
  std::string old_;
  bool had_ = false;
};

// A small Llama with widths that leave partial 32-column panels (ffn 80,
// kv 24) and a vocabulary larger than the tokenizer's.
LlamaDims llama_dims() {
  LlamaDims d;
  d.vocab = 300;
  d.hidden = 48;
  d.ffn = 80;
  return d;
}

std::string llama_dir(bool tied, const std::string& dtype) {
  const std::string dir = temp_dir("ckpt_type_" + dtype + (tied ? "_tied" : ""));
  write_text(dir + "/config.json",
             config_json({{"architectures", "[\"LlamaForCausalLM\"]"}, {"model_type", "\"llama\""},
                          {"hidden_size", "48"}, {"num_hidden_layers", "2"}, {"num_attention_heads", "4"},
                          {"num_key_value_heads", "2"}, {"intermediate_size", "80"}, {"vocab_size", "300"},
                          {"max_position_embeddings", "64"}, {"rms_norm_eps", "1e-05"}, {"rope_theta", "10000.0"},
                          {"hidden_act", "\"silu\""}, {"tie_word_embeddings", tied ? "true" : "false"}},
                         {}));
  write_text(dir + "/tokenizer.json", tokenizer_json(false, kByteLevel, "null"));
  write_weights(dir, llama_weights(llama_dims(), tied, tied ? 21 : 22), dtype);
  return dir;
}

}  // namespace

TEST(CheckpointTypeWeights, PackFromRowsIsPackOfTheWidenedMatrix) {
  for (const long n : {1L, 31L, 45L, 64L}) {
    const auto h = random_half(n, 70, HalfMatrix::Type::kBf16, unsigned(n));
    const MatrixF w = h->widen();
    const kernels::PackedB want = kernels::pack_b(w.data(), w.cols(), kernels::BLayout::kNK, n, 70);
    const kernels::PackedB got =
        kernels::pack_b_from_rows(n, 70, [&](long r0, long rows, float* out) { h->widen_rows(r0, rows, out); });
    EXPECT_EQ(got.n, want.n);
    EXPECT_EQ(got.k, want.k);
    EXPECT_EQ(got.data, want.data) << "n " << n;  // both empty on the portable path
  }
}

TEST(CheckpointTypeWeights, FloatLinearOnWordsHasTheWidenedLayersBits) {
  Rng r(5);
  MatrixF x(13, 70);
  const std::vector<float> xv = r.normal(size_t(x.size()), 1.0f);
  std::memcpy(x.data(), xv.data(), sizeof(float) * xv.size());
  const std::vector<float> bv = r.normal(45, 0.1f);
  const VectorF bias = Eigen::Map<const VectorF>(bv.data(), 45);
  for (const HalfMatrix::Type t : {HalfMatrix::Type::kBf16, HalfMatrix::Type::kFp16}) {
    const auto h = random_half(45, 70, t, 9);
    const FloatLinear words(h, bias), widened(h->widen(), bias);
    EXPECT_TRUE(same_bits(words.forward(x), widened.forward(x)));
    EXPECT_TRUE(same_bits(words.weight(), h->widen()));
    EXPECT_EQ(words.out_features(), 45);
    EXPECT_EQ(words.in_features(), 70);
  }
  // the widening is the loaders' (sim/formats/gguf_dequant.h)
  const auto h = random_half(2, 3, HalfMatrix::Type::kFp16, 4);
  for (long i = 0; i < 6; ++i) EXPECT_EQ(h->widen().data()[i], fp16_to_float(h->words[size_t(i)]));
}

TEST(CheckpointTypeWeights, TheRuleFollowsTheVariableAndTheSize) {
  const uint64_t limit_elements = kKeepCheckpointTypeAboveBytes / 4;
  {
    const WeightsInMemory unset(nullptr);
    EXPECT_FALSE(keep_checkpoint_type(limit_elements));
    EXPECT_TRUE(keep_checkpoint_type(limit_elements + 1));
  }
  {
    const WeightsInMemory keep("checkpoint");
    EXPECT_TRUE(keep_checkpoint_type(uint64_t(10)));
  }
  {
    const WeightsInMemory fp32("fp32");
    EXPECT_FALSE(keep_checkpoint_type(limit_elements * 10));
  }
  const WeightsInMemory bad("bf16");
  try {
    keep_checkpoint_type(uint64_t(10));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SQSIM_WEIGHTS_IN_MEMORY='bf16': expected auto, checkpoint or fp32"),
              std::string::npos)
        << e.what();
  }
}

TEST(CheckpointTypeWeights, Bf16AndFp16LlamaLogitsAreBitIdenticalBothWays) {
  const std::vector<int32_t> tokens = {259, 116, 257, 258, 3, 200, 45, 258, 12, 99, 1, 7, 140};
  for (const std::string dtype : {"BF16", "F16"})
    for (const bool tied : {false, true}) {
      const std::string dir = llama_dir(tied, dtype), what = dtype + (tied ? " tied" : " untied");
      MatrixF fp32, kept;
      {
        const WeightsInMemory w("fp32");
        fp32 = load_model(dir).model->forward(tokens);
      }
      {
        const WeightsInMemory w("checkpoint");
        const LoadedModel m = load_model(dir);
        kept = m.model->forward(tokens);
        const auto* q = dynamic_cast<const FloatLinear*>(&m.model->linear("model.layers.1.mlp.down_proj"));
        ASSERT_NE(q, nullptr);
        EXPECT_EQ(q->weight().rows(), 48) << what;
      }
      EXPECT_EQ(fp32.rows(), long(tokens.size())) << what;
      EXPECT_EQ(fp32.cols(), 300) << what;
      EXPECT_TRUE(same_bits(fp32, kept)) << what;
      std::filesystem::remove_all(dir);
    }
}
