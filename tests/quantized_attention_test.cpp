// Attention BMM schemes (quant/bmm_scheme.h, sim/models/quantized_attention.h):
// the probabilities' fixed steps on hand-made rows, Q and K quantized before
// or after RoPE against an independent computation, integer products equal on
// every kernel path, and the options' errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "base/error.h"
#include "kernels/attention_int8.h"
#include "kernels/kernel_path.h"
#include "quant/bmm_scheme.h"
#include "sim/models/llama_model.h"
#include "sim/models/quantized_attention.h"
#include "tests/run_sqsim.h"

using namespace sqsim;

namespace {

MatrixF random_matrix(long r, long c, unsigned seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  MatrixF m(r, c);
  for (long i = 0; i < m.size(); ++i) m.data()[i] = d(rng);
  return m;
}

BmmScheme only_p(ProbFormat f) {
  BmmScheme b = bmm_scheme("off");
  b.p = true;
  b.p_format = f;
  return b;
}

// P·V with V = identity returns the quantized P itself.
MatrixF quantized_probabilities(const MatrixF& p, ProbFormat f, kernels::EmulationMode mode) {
  const long T = p.rows();
  const AttentionMatmuls mm = quantized_attention_matmuls(only_p(f), false, mode, kernels::KernelPath::kReference);
  const MatrixF q = MatrixF::Zero(T, T), k = MatrixF::Zero(T, T), v = MatrixF::Identity(T, T);
  const HeadMatmuls hm = mm.heads(0, q, k, v, int(T));
  EXPECT_FALSE(hm.qk);  // Q and K stay float
  return hm.pv(0, 0, p);
}

TEST(BmmProbabilities, BelowHalfAStepBecomeZero) {
  // Rows of a causal mask: row 0 sees one key (probability 1), row r sees r + 1.
  MatrixF p = MatrixF::Zero(4, 4);
  p.row(0) << 1.0f, 0, 0, 0;
  p.row(1) << 0.996f, 0.004f, 0, 0;          // 0.004 * 127 = 0.508 -> 1; * 255 = 1.02 -> 1
  p.row(2) << 0.9951f, 0.0030f, 0.0019f, 0;  // * 127: 0.381, 0.241 -> 0; * 255: 0.765 -> 1, 0.4845 -> 0
  p.row(3) << 0.25f, 0.25f, 0.25f, 0.25f;
  for (auto mode : {kernels::EmulationMode::kInteger, kernels::EmulationMode::kFakeQuant}) {
    const MatrixF s8 = quantized_probabilities(p, ProbFormat::kSigned8, mode);
    const MatrixF u8 = quantized_probabilities(p, ProbFormat::kUnsigned8, mode);
    const float a = 1.0f / 127.0f, b = 1.0f / 255.0f;
    EXPECT_FLOAT_EQ(s8(0, 0), 127 * a);
    EXPECT_FLOAT_EQ(s8(1, 1), 1 * a);
    EXPECT_EQ(s8(2, 1), 0.0f);
    EXPECT_EQ(s8(2, 2), 0.0f);
    EXPECT_FLOAT_EQ(s8(2, 0), 126 * a);  // 0.9951 * 127 = 126.38
    EXPECT_FLOAT_EQ(s8(3, 3), 32 * a);   // 31.75 -> 32
    EXPECT_FLOAT_EQ(u8(1, 1), 1 * b);
    EXPECT_FLOAT_EQ(u8(2, 1), 1 * b);
    EXPECT_EQ(u8(2, 2), 0.0f);
    EXPECT_FLOAT_EQ(u8(3, 3), 64 * b);  // 63.75 -> 64
    // The masked upper triangle stays exactly 0.
    for (long r = 0; r < 4; ++r)
      for (long c = r + 1; c < 4; ++c) {
        EXPECT_EQ(s8(r, c), 0.0f);
        EXPECT_EQ(u8(r, c), 0.0f);
      }
  }
}

// Independent symmetric per-row fake quantization over the whole row
// (mit-han-lab's quantize_activation_per_token_absmax): absmax clamped at
// 1e-5, step absmax / 127, round half to even.
MatrixF per_row_reference(const MatrixF& x) {
  MatrixF y = x;
  for (long r = 0; r < x.rows(); ++r) {
    const float s = std::max(x.row(r).cwiseAbs().maxCoeff(), 1e-5f) / 127.0f;
    for (long c = 0; c < x.cols(); ++c) y(r, c) = std::nearbyint(x(r, c) / s) * s;
  }
  return y;
}

MatrixF scores(const MatrixF& q, const MatrixF& k, int h, int kvh, int d) {
  return q.middleCols(h * d, d) * k.middleCols(kvh * d, d).transpose();
}

TEST(BmmQk, BeforeAndAfterRopeEqualAnIndependentComputation) {
  const int T = 6, d = 8, H = 2, KV = 1;
  const MatrixF q0 = random_matrix(T, H * d, 1, 2.0f), k0 = random_matrix(T, KV * d, 2, 3.0f);
  const MatrixF v0 = random_matrix(T, KV * d, 3);
  const RopeTable rope = rope_table(T, d, 10000.0f);

  // mit-fake: the projection outputs per token over all heads, then RoPE.
  {
    const BmmScheme b = bmm_scheme("mit-fake");
    const AttentionMatmuls mm =
        quantized_attention_matmuls(b, false, kernels::EmulationMode::kInteger, kernels::KernelPath::kAuto);
    ASSERT_TRUE(mm.projections);
    EXPECT_FALSE(mm.heads);  // P stays float: attention itself is float
    MatrixF q = q0, k = k0, v = v0;
    mm.on_projections(0, q, k, v, d);
    EXPECT_EQ(q, per_row_reference(q0));
    EXPECT_EQ(k, per_row_reference(k0));
    EXPECT_EQ(v, per_row_reference(v0));
  }
  // After RoPE, per token over all heads: the integer product equals the
  // float product of the independently quantized rotated operands.
  MatrixF qr = q0, kr = k0;
  apply_rope(qr, H, d, rope, RopeStyle::Half);
  apply_rope(kr, KV, d, rope, RopeStyle::Half);
  BmmScheme b = bmm_scheme("int8-real");
  b.granularity = BmmGranularity::kToken;
  for (auto mode : {kernels::EmulationMode::kInteger, kernels::EmulationMode::kFakeQuant}) {
    const AttentionMatmuls mm = quantized_attention_matmuls(b, false, mode, kernels::KernelPath::kAuto);
    EXPECT_FALSE(mm.projections);
    const HeadMatmuls hm = mm.heads(0, qr, kr, v0, d);
    const MatrixF qq = per_row_reference(qr), kq = per_row_reference(kr);
    for (int h = 0; h < H; ++h) {
      const MatrixF s = hm.qk(h, 0), ref = scores(qq, kq, h, 0, d);
      for (long i = 0; i < s.size(); ++i) EXPECT_NEAR(s.data()[i], ref.data()[i], 1e-5f * (1 + std::abs(ref.data()[i])));
    }
  }
  // Quantizing before or after RoPE are different schemes: the scores differ.
  {
    MatrixF qb = per_row_reference(q0), kb = per_row_reference(k0);
    apply_rope(qb, H, d, rope, RopeStyle::Half);
    apply_rope(kb, KV, d, rope, RopeStyle::Half);
    EXPECT_GT((scores(qb, kb, 0, 0, d) - scores(per_row_reference(qr), per_row_reference(kr), 0, 0, d)).norm(), 0.0f);
  }
}

TEST(BmmQk, HeadGranularityUsesEachHeadsOwnScale) {
  const int T = 5, d = 4, H = 2;
  MatrixF q = random_matrix(T, H * d, 4), k = random_matrix(T, H * d, 5);
  q.middleCols(d, d) *= 100.0f;  // head 1 much larger: per tensor its step would swamp head 0
  const MatrixF v = random_matrix(T, H * d, 6);
  for (BmmGranularity g : {BmmGranularity::kHead, BmmGranularity::kTensor}) {
    BmmScheme b = bmm_scheme("int8-real");
    b.granularity = g;
    const HeadMatmuls hm = quantized_attention_matmuls(b, false, kernels::EmulationMode::kFakeQuant,
                                                       kernels::KernelPath::kAuto)
                               .heads(0, q, k, v, d);
    const MatrixF exact = scores(q, k, 0, 0, d);
    const float err = (hm.qk(0, 0) - exact).norm() / exact.norm();
    if (g == BmmGranularity::kHead) EXPECT_LT(err, 0.02f);
    else EXPECT_GT(err, 0.05f);
  }
}

TEST(BmmProducts, EveryKernelPathGivesTheReferenceBits) {
  const int T = 33, d = 16, H = 4, KV = 2;
  const MatrixF q = random_matrix(T, H * d, 7), k = random_matrix(T, KV * d, 8), v = random_matrix(T, KV * d, 9);
  MatrixF p = random_matrix(T, T, 10).cwiseAbs();
  for (long r = 0; r < T; ++r) {
    for (long c = r + 1; c < T; ++c) p(r, c) = 0;
    p.row(r) /= p.row(r).sum();
  }
  for (BmmGranularity g : {BmmGranularity::kTensor, BmmGranularity::kHead, BmmGranularity::kToken,
                           BmmGranularity::kTokenHead}) {
    BmmScheme b = bmm_scheme("int8-real");
    b.granularity = g;
    MatrixF ref_s, ref_o;
    for (kernels::KernelPath path : kernels::available_kernel_paths()) {
      const HeadMatmuls hm =
          quantized_attention_matmuls(b, true, kernels::EmulationMode::kInteger, path).heads(2, q, k, v, d);
      MatrixF s(T, H * T), o(T, H * d);
      for (int h = 0; h < H; ++h) {
        s.middleCols(h * T, T) = hm.qk(h, h / 2);
        o.middleCols(h * d, d) = hm.pv(h, h / 2, p);
      }
      if (path == kernels::KernelPath::kReference) {
        ref_s = s;
        ref_o = o;
        // The integer GEMM really ran: fake-quant rounds its float sums differently.
        const HeadMatmuls fq =
            quantized_attention_matmuls(b, true, kernels::EmulationMode::kFakeQuant, path).heads(2, q, k, v, d);
        MatrixF fs(T, H * T);
        for (int h = 0; h < H; ++h) fs.middleCols(h * T, T) = fq.qk(h, h / 2);
        EXPECT_NE(fs, s) << bmm_granularity_name(g);
        EXPECT_TRUE(fs.isApprox(s, 1e-5f)) << bmm_granularity_name(g);
      } else {
        EXPECT_EQ(s, ref_s) << bmm_granularity_name(g) << " " << kernels::kernel_path_name(path);
        EXPECT_EQ(o, ref_o) << bmm_granularity_name(g) << " " << kernels::kernel_path_name(path);
      }
    }
  }
}

TEST(BmmScheme, NamesFieldsAndErrors) {
  EXPECT_FALSE(bmm_scheme("off").enabled());
  const BmmScheme real = bmm_scheme("int8-real");
  EXPECT_TRUE(real.q && real.k && real.v && real.p);
  EXPECT_EQ(real.point, BmmPoint::kRope);
  const BmmScheme mit = bmm_scheme("mit-fake");
  EXPECT_TRUE(mit.q && mit.k && mit.v && !mit.p);
  EXPECT_EQ(mit.point, BmmPoint::kProjection);
  EXPECT_EQ(mit.granularity, BmmGranularity::kToken);
  try {
    bmm_scheme("int4-fast");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--bmm 'int4-fast'"), std::string::npos) << e.what();
  }
  BmmScheme four = real;
  four.bits = 4;
  EXPECT_THROW(four.validate(), Error);
  BmmScheme fake4 = mit;
  fake4.bits = 4;
  EXPECT_NO_THROW(fake4.validate());
}

TEST(BmmCli, BadOptionsGiveOneLineErrors) {
  const struct {
    const char* args;
    const char* expect;
  } cases[] = {
      {"ppl --bmm int4-fast", "--bmm 'int4-fast'"},
      {"ppl --bmm int8-real --bmm-bits 4", "--bmm-bits 4"},
      {"ppl --bmm mit-fake --bmm-bits 9", "--bmm-bits 9"},
      {"ppl --bmm mit-fake --bmm-granularity row", "--bmm-granularity 'row'"},
      {"ppl --bmm mit-fake --bmm-point middle", "--bmm-point 'middle'"},
      {"ppl --bmm mit-fake --bmm-p s4", "--bmm-p 's4'"},
      {"ppl --bmm mit-fake --bmm-operands q,x", "--bmm-operands 'q,x'"},
      {"ppl --bmm-granularity token", "--bmm-*"},
      {"ppl --quantize-bmm --bmm mit-fake", "--quantize-bmm"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << ": " << r.out;
  }
}

}  // namespace

// The blocks hook (int8 attention by query blocks, kernels/attention_int8.h)
// against the heads hook on the reference kernel: the whole causal attention,
// bit for bit, over windows whose blocks and key counts are not multiples of
// the kernels' steps, with grouped KV heads, a sliding window and ALiBi.
TEST(BmmBlocks, CausalAttentionByBlocksEqualsTheHeadsHookOnTheReference) {
  if (!kernels::int8_attention_available()) GTEST_SKIP() << "no AVX-512 VNNI: the blocks hook is not used here";
  for (BmmGranularity g : {BmmGranularity::kHead, BmmGranularity::kTensor}) {
    BmmScheme b = bmm_scheme("int8-real");
    b.granularity = g;
    const AttentionMatmuls fast =
        quantized_attention_matmuls(b, false, kernels::EmulationMode::kInteger, kernels::KernelPath::kAvx512Vnni);
    const AttentionMatmuls ref =
        quantized_attention_matmuls(b, false, kernels::EmulationMode::kInteger, kernels::KernelPath::kReference);
    ASSERT_TRUE(fast.blocks);
    ASSERT_TRUE(fast.heads);  // beside it, for shapes the blocks cannot take
    ASSERT_FALSE(ref.blocks);
    for (int d : {16, 64, 6}) {
      for (long T : {1L, 45L, 301L}) {
        const int H = 4, KV = 2;
        const MatrixF q = random_matrix(T, H * d, 11, 2.0f), k = random_matrix(T, KV * d, 12, 2.0f);
        const MatrixF v = random_matrix(T, KV * d, 13);
        VectorF slopes(H);
        slopes << 0.5f, 0.25f, 0.125f, 0.0625f;
        AttentionOptions plain, windowed, alibi;
        windowed.window = 37;
        alibi.alibi_slopes = &slopes;
        for (const AttentionOptions* opt : {&plain, &windowed, &alibi}) {
          const MatrixF a = causal_attention(q, k, v, H, KV, d, *opt, fast, 3);
          const MatrixF r = causal_attention(q, k, v, H, KV, d, *opt, ref, 3);
          ASSERT_EQ(a.rows(), r.rows());
          EXPECT_EQ(0, std::memcmp(a.data(), r.data(), sizeof(float) * size_t(a.size())))
              << bmm_granularity_name(g) << " d " << d << " T " << T << " window " << opt->window;
        }
      }
    }
  }
}

TEST(BmmBlocks, OnlyTheSchemesTheKernelsComputeExactlyRunByBlocks) {
  using kernels::EmulationMode;
  using kernels::KernelPath;
  const auto blocks = [](const BmmScheme& b, bool kv_int8, EmulationMode m, KernelPath p) {
    return bool(quantized_attention_matmuls(b, kv_int8, m, p).blocks);
  };
  const BmmScheme real = bmm_scheme("int8-real");
  EXPECT_FALSE(blocks(real, false, EmulationMode::kFakeQuant, KernelPath::kAuto));
  EXPECT_FALSE(blocks(real, true, EmulationMode::kInteger, KernelPath::kAuto));
  EXPECT_FALSE(blocks(real, false, EmulationMode::kInteger, KernelPath::kReference));
  BmmScheme per_token = real;
  per_token.granularity = BmmGranularity::kTokenHead;
  EXPECT_FALSE(blocks(per_token, false, EmulationMode::kInteger, KernelPath::kAuto));
  BmmScheme u8 = real;
  u8.p_format = ProbFormat::kUnsigned8;
  EXPECT_FALSE(blocks(u8, false, EmulationMode::kInteger, KernelPath::kAuto));
  BmmScheme no_p = real;
  no_p.p = false;
  EXPECT_FALSE(blocks(no_p, false, EmulationMode::kInteger, KernelPath::kAuto));
  EXPECT_EQ(blocks(real, false, EmulationMode::kInteger, KernelPath::kAuto), kernels::int8_attention_available());
}

// Each block's products alone: the scores and P·V rows of a block equal the
// same rows of the heads hook's whole products on the reference kernel (the
// softmax after the scores would hide a one-ulp change in them).
TEST(BmmBlocks, ABlocksScoresAndValuesAreTheWholeProductsRows) {
  if (!kernels::int8_attention_available()) GTEST_SKIP() << "no AVX-512 VNNI: the blocks hook is not used here";
  const int d = 64, H = 2, KV = 1;
  const long T = 203;
  const MatrixF q = random_matrix(T, H * d, 21, 3.0f), k = random_matrix(T, KV * d, 22, 2.0f);
  const MatrixF v = random_matrix(T, KV * d, 23);
  MatrixF p = random_matrix(T, T, 24).cwiseAbs();
  for (long r = 0; r < T; ++r) {
    for (long c = r + 1; c < T; ++c) p(r, c) = 0;
    p.row(r) /= p.row(r).sum();
  }
  const BmmScheme b = bmm_scheme("int8-real");
  const HeadMatmuls whole =
      quantized_attention_matmuls(b, false, kernels::EmulationMode::kInteger, kernels::KernelPath::kReference)
          .heads(1, q, k, v, d);
  const BlockMatmuls bm =
      quantized_attention_matmuls(b, false, kernels::EmulationMode::kInteger, kernels::KernelPath::kAvx512Vnni)
          .blocks(1, q, k, v, d);
  ASSERT_TRUE(bm.qk && bm.pv);
  for (int h = 0; h < H; ++h) {
    const MatrixF s = whole.qk(h, 0), o = whole.pv(h, 0, p);
    for (long i0 : {0L, 50L, 199L}) {
      const long rows = std::min(T - i0, 70L), keys = i0 + rows;
      std::vector<float> bs(size_t(rows * keys)), pb(size_t(rows * keys)), bo(size_t(rows * d));
      bm.qk(h, 0, i0, rows, keys, bs.data());
      for (long r = 0; r < rows; ++r)
        for (long j = 0; j < keys; ++j) {
          ASSERT_EQ(std::memcmp(&bs[size_t(r * keys + j)], &s(i0 + r, j), 4), 0) << h << " " << i0 + r << " " << j;
          pb[size_t(r * keys + j)] = p(i0 + r, j);
        }
      bm.pv(h, 0, rows, keys, pb.data(), bo.data(), d);
      for (long r = 0; r < rows; ++r)
        for (long c = 0; c < d; ++c)
          ASSERT_EQ(std::memcmp(&bo[size_t(r * d + c)], &o(i0 + r, c), 4), 0) << h << " " << i0 + r << " " << c;
    }
  }
}
