// next_token_nll(model, tokens) (the forward stopped at the final norm, the
// LM head run on row chunks: docs/memory.md) gives every token's NLL with the
// bits of next_token_nll(forward(tokens)), on a small model of every family
// whose forward ends in CausalLm::hidden_windows (Llama, OPT, BLOOM, Gemma 3
// with soft-capping, Mixtral), with chunks that split the window unevenly, a
// per-token quantized model, a head whose rows depend on each other, and
// SmolLM2 over a 2048-token window (skipped without it).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "quant/model_quant_config.h"
#include "sim/eval/perplexity.h"
#include "sim/eval/quantize_model.h"
#include "sim/models/bloom_model.h"
#include "sim/models/gemma3_model.h"
#include "sim/models/llama_model.h"
#include "sim/models/load_model.h"
#include "sim/models/mixtral_model.h"
#include "sim/models/opt_model.h"
#include "base/io.h"
#include "tests/real_data.h"
#include "tests/random_weights.h"

using namespace sqsim;

namespace {

sqsim::WeightSource random_weights() { return sqsim_test::random_weights(0.1f, 0.3f); }

constexpr int kVocab = 300;  // wider than a GEMM column tile (192)

LlamaConfig llama_config() {
  LlamaConfig c;
  c.n_layers = 2;
  c.hidden = 32;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn = 48;
  c.vocab = kVocab;
  c.validate("small llama");
  return c;
}

std::vector<int32_t> random_tokens(long n, int vocab) {
  std::mt19937 rng(11);
  std::vector<int32_t> t;
  for (long i = 0; i < n; ++i) t.push_back(int32_t(rng() % unsigned(vocab)));
  return t;
}

// Every token's NLL, chunked (several chunk sizes, the default too) and from
// the whole logits, compared bit for bit.
void expect_chunked_nll_equals_logits_nll(const CausalLm& m, const std::vector<int32_t>& tokens,
                                          const std::vector<long>& chunks) {
  const std::vector<double> want = next_token_nll(m.forward(tokens), tokens);
  ASSERT_EQ(want.size(), tokens.size() - 1);
  for (const long chunk : chunks) {
    const std::vector<double> got = next_token_nll(m, tokens, chunk);
    ASSERT_EQ(got.size(), want.size()) << "chunk " << chunk;
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(double))) << "chunk " << chunk;
    for (size_t t = 0; t < want.size(); ++t)
      if (got[t] != want[t]) {
        ADD_FAILURE() << "chunk " << chunk << ", token " << t << ": " << got[t] << " != " << want[t];
        break;
      }
  }
}

// Every chunk size the tests try: 64 and 192 (the float GEMM's row splits on
// either path) and the default; on the AVX-512 path, whose bits do not depend
// on the tiling, uneven ones too.
std::vector<long> chunk_sizes() {
  std::vector<long> c = {64, 192, 0};
  if (kernels::sgemm_avx512_available()) c.insert(c.end(), {1, 7, 100});
  return c;
}

// A head whose output rows depend on every input row (each logit plus the
// mean of the whole input), so it may not be run on chunks.
class WholeInputHead : public LinearLayer {
 public:
  explicit WholeInputHead(std::unique_ptr<LinearLayer> inner) : inner_(std::move(inner)) {}
  MatrixF forward(const MatrixF& x) const override {
    MatrixF y = inner_->forward(x);
    y.array() += x.mean();
    return y;
  }
  int in_features() const override { return inner_->in_features(); }
  int out_features() const override { return inner_->out_features(); }

 private:
  std::unique_ptr<LinearLayer> inner_;
};

}  // namespace

TEST(HeadChunks, LlamaNllHasTheBitsOfTheWholeLogits) {
  const LlamaModel m = LlamaModel::from_weights(llama_config(), random_weights());
  EXPECT_TRUE(m.head_rows_independent());
  expect_chunked_nll_equals_logits_nll(m, random_tokens(450, kVocab), chunk_sizes());
  expect_chunked_nll_equals_logits_nll(m, random_tokens(2, kVocab), chunk_sizes());  // one scored row
}

TEST(HeadChunks, OptNllHasTheBitsOfTheWholeLogits) {
  OptConfig c;
  c.n_layers = 2;
  c.hidden = 32;
  c.n_heads = 4;
  c.ffn = 48;
  c.vocab = kVocab;
  c.max_positions = 512;
  c.validate("small opt");
  expect_chunked_nll_equals_logits_nll(OptModel::from_weights(c, random_weights()), random_tokens(300, kVocab),
                                       chunk_sizes());
}

TEST(HeadChunks, BloomNllHasTheBitsOfTheWholeLogits) {
  BloomConfig c;
  c.n_layers = 2;
  c.hidden = 32;
  c.n_heads = 4;
  c.vocab = kVocab;
  c.validate("small bloom");
  expect_chunked_nll_equals_logits_nll(BloomModel::from_weights(c, random_weights()), random_tokens(300, kVocab),
                                       chunk_sizes());
}

TEST(HeadChunks, Gemma3SoftCappedNllHasTheBitsOfTheWholeLogits) {
  Gemma3Config c;
  c.n_layers = 2;
  c.hidden = 32;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 8;
  c.ffn = 48;
  c.vocab = kVocab;
  c.sliding_window = 16;
  c.sliding = {true, false};
  c.final_softcap = 5.0f;  // project_rows caps: the chunks must too
  c.validate("small gemma3");
  const Gemma3Model m = Gemma3Model::from_weights(c, random_weights(), Gemma3Model::NormForm::kGain);
  expect_chunked_nll_equals_logits_nll(m, random_tokens(300, kVocab), chunk_sizes());
}

TEST(HeadChunks, MixtralNllHasTheBitsOfTheWholeLogits) {
  MixtralConfig c;
  c.attn = llama_config();
  c.n_experts = 4;
  c.top_k = 2;
  c.validate("small mixtral");
  expect_chunked_nll_equals_logits_nll(MixtralModel::from_weights(c, random_weights()), random_tokens(300, kVocab),
                                       chunk_sizes());
}

TEST(HeadChunks, PerTokenQuantizedModelKeepsTheBits) {
  LlamaModel m = LlamaModel::from_weights(llama_config(), random_weights());
  quantize_model(m, preset_config("zeroquant"), nullptr);
  expect_chunked_nll_equals_logits_nll(m, random_tokens(300, kVocab), chunk_sizes());
}

TEST(HeadChunks, HeadWithDependentRowsProjectsAllRowsAtOnce) {
  LlamaModel m = LlamaModel::from_weights(llama_config(), random_weights());
  const MatrixF w = dynamic_cast<const FloatLinear&>(m.linear("lm_head")).weight();
  m.set_linear("lm_head", std::make_unique<WholeInputHead>(std::make_unique<FloatLinear>(w)));
  EXPECT_FALSE(m.head_rows_independent());
  expect_chunked_nll_equals_logits_nll(m, random_tokens(300, kVocab), chunk_sizes());
}

TEST(HeadChunks, SmolLm2WindowOf2048HasTheBitsOfTheWholeLogits) {
  if (!sqsim_test::exists(sqsim_test::kModel) || !sqsim_test::exists(sqsim_test::kWiki))
    GTEST_SKIP() << "model or WikiText-2 absent";
  const LoadedModel m = load_model(sqsim_test::kModel);
  std::vector<int32_t> ids = tokenize_document(m, read_text_file(sqsim_test::kWiki));
  ASSERT_GE(ids.size(), 2048u);
  ids.resize(2048);
  expect_chunked_nll_equals_logits_nll(*m.model, ids, {0});
}
