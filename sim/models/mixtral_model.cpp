// Mixtral forward pass (see mixtral_model.h for the math): the attention
// weights as a table, the experts beside it; then the forward, the routing,
// the names and smoothing, and loading.
#include "sim/models/mixtral_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/error.h"
#include "base/str.h"
#include "kernels/vecmath.h"

namespace sqsim {

// ---------------------------------------------------------------- weights

namespace {

constexpr NormSlot<MixtralBlock> kMixtralNorms[] = {
    {"input_layernorm", "attn_norm", &MixtralBlock::attn_norm, Dim::kHidden},
    {"post_attention_layernorm", "ffn_norm", &MixtralBlock::ffn_norm, Dim::kHidden},
};
// Attention only: the router and the experts (their number is in the config)
// are loaded and named by MixtralModel itself.
constexpr LinearSlot<MixtralBlock> kMixtralLinears[] = {
    {"self_attn.q_proj", "attn_q", &MixtralBlock::q, Dim::kQ, Dim::kHidden, &MixtralBlock::attn_norm},
    {"self_attn.k_proj", "attn_k", &MixtralBlock::k, Dim::kKv, Dim::kHidden, &MixtralBlock::attn_norm},
    {"self_attn.v_proj", "attn_v", &MixtralBlock::v, Dim::kKv, Dim::kHidden, &MixtralBlock::attn_norm},
    {"self_attn.o_proj", "attn_output", &MixtralBlock::o, Dim::kHidden, Dim::kQ, nullptr},
};
constexpr LayerTable<MixtralBlock> kMixtralLayers = {
    "mixtral",
    "model.layers.",
    kMixtralNorms,
    kMixtralLinears,
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
    {},
    /*biases=*/false,
};

const char* const kMoe = "block_sparse_moe.";
const char* const kExpertLayers[] = {"w1", "w3", "w2"};  // forward order

std::string expert_prefix(int l, int e) { return str("model.layers.", l, ".", kMoe, "experts.", e, "."); }

}  // namespace

MixtralModel::MixtralModel() : TableModel(kMixtralLayers) {}

// ---------------------------------------------------------------- forward

MatrixF MixtralModel::forward(const std::vector<int32_t>& tokens) const { return forward_windows({{tokens, 0}}); }
MatrixF MixtralModel::hidden_windows(const std::vector<Window>& windows) const { return run(windows, nullptr); }

std::vector<std::vector<int>> MixtralModel::routing(const std::vector<int32_t>& tokens) const {
  std::vector<std::vector<int>> routes(size_t(cfg_.attn.n_layers));
  run({{tokens, 0}}, &routes);
  return routes;
}

// Llama's attention (llama_model.cpp), then the sparse MoE block.
MatrixF MixtralModel::run(const std::vector<Window>& windows, std::vector<std::vector<int>>* routes) const {
  const LlamaConfig& c = cfg_.attn;
  const StackedRows rows = stack_windows(windows, c.vocab);
  MatrixF x(rows.total, c.hidden);
  for (size_t w = 0; w < windows.size(); ++w)
    for (long t = 0; t < rows.size[w]; ++t) x.row(rows.start[w] + t) = embed_.row(windows[w].tokens[size_t(t)]);
  const RopeTable rope_all = rope_table(rows.longest, c.head_dim, c.rope_base);
  auto rope = [&](MatrixF& m, int heads, long pos0) {
    const RopeTable from{rope_all.cos.middleRows(pos0, m.rows()), rope_all.sin.middleRows(pos0, m.rows())};
    apply_rope(m, heads, c.head_dim, from, c.rope_style);
  };
  for (int l = 0; l < c.n_layers; ++l) {
    const MixtralBlock& b = blocks_[size_t(l)];
    // attention rmsnorm, q, k, v, RoPE, causal attention (GQA), output projection, residual
    const MatrixF xn = rms_norm(x, b.attn_norm.weight, c.rms_eps);
    const MatrixF q = b.q->forward(xn), k = b.k->forward(xn), v = b.v->forward(xn);
    const MatrixF att = attend_by_window(
        rows, q, k, v,
        [&](MatrixF& qw, MatrixF& kw, MatrixF& vw, long pos0) {
          attention_matmuls.on_projections(l, qw, kw, vw, c.head_dim);
          rope(qw, c.n_heads, pos0);
          rope(kw, c.n_kv_heads, pos0);
        },
        [&](const MatrixF& qw, const MatrixF& kw, const MatrixF& vw) {
          return causal_attention(qw, kw, vw, c.n_heads, c.n_kv_heads, c.head_dim, attention_matmuls, l);
        });
    x += b.o->forward(att);
    // ffn rmsnorm, the routed experts, residual
    x += moe(b, rms_norm(x, b.ffn_norm.weight, c.rms_eps), routes ? &(*routes)[size_t(l)] : nullptr);
  }
  return rms_norm(logit_rows(x, rows, windows), final_norm_.weight, c.rms_eps);  // head: project_rows
}

// Router softmax in float, top k (the larger probability first; a tie goes
// to the lower expert index), renormalised; then each expert on its rows, in
// expert order, its outputs weighted and added (HF's index_add_ order).
MatrixF MixtralModel::moe(const MixtralBlock& b, const MatrixF& h, std::vector<int>* route) const {
  const int E = cfg_.n_experts, K = cfg_.top_k;
  const long T = h.rows();
  const MatrixF logits = h * b.router.transpose();  // [T x E]
  std::vector<std::vector<long>> rows_of(static_cast<size_t>(E));
  std::vector<std::vector<float>> weight_of(static_cast<size_t>(E));
  std::vector<int> order(static_cast<size_t>(E));
  std::vector<float> p(static_cast<size_t>(E));
  if (route) route->assign(size_t(T * K), -1);
  for (long t = 0; t < T; ++t) {
    const float mx = logits.row(t).maxCoeff();
    float sum = 0.0f;
    for (int e = 0; e < E; ++e) sum += (p[size_t(e)] = std::exp(logits(t, e) - mx));
    for (float& v : p) v /= sum;
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int c) { return p[size_t(a)] > p[size_t(c)]; });
    float top = 0.0f;
    for (int s = 0; s < K; ++s) top += p[size_t(order[size_t(s)])];
    for (int s = 0; s < K; ++s) {
      const int e = order[size_t(s)];
      rows_of[size_t(e)].push_back(t);
      weight_of[size_t(e)].push_back(p[size_t(e)] / top);
      if (route) (*route)[size_t(t * K + s)] = e;
    }
  }
  MatrixF out = MatrixF::Zero(T, h.cols());
  for (int e = 0; e < E; ++e) {
    const std::vector<long>& r = rows_of[size_t(e)];
    if (r.empty()) continue;  // an expert no token chose does not run
    const MixtralExpert& ex = b.experts[size_t(e)];
    MatrixF xe(long(r.size()), h.cols());
    for (size_t i = 0; i < r.size(); ++i) xe.row(long(i)) = h.row(r[i]);
    if (ex.input_divisor.size()) xe.array().rowwise() /= ex.input_divisor.transpose().array();
    // SwiGLU: w2(silu(w1 x) * w3 x)
    MatrixF g = ex.w1->forward(xe);
    const MatrixF u = ex.w3->forward(xe);
    kernels::silu_mul(g.data(), u.data(), g.size());
    const MatrixF y = ex.w2->forward(g);
    for (size_t i = 0; i < r.size(); ++i) out.row(r[i]) += weight_of[size_t(e)][i] * y.row(long(i));
  }
  return out;
}

// ---------------------------------------------------------------- names and smoothing

std::pair<int, int> MixtralModel::expert_of(const std::string& n, std::string* rest) const {
  std::string in_block;
  const int l = block_index(n, "model.layers.", num_layers(), &in_block);
  const std::string p = std::string(kMoe) + "experts.";
  if (l < 0 || in_block.rfind(p, 0) != 0) return {-1, -1};
  const int e = block_index(in_block, p, cfg_.n_experts, rest);
  return e < 0 ? std::pair<int, int>{-1, -1} : std::pair<int, int>{l, e};
}

std::unique_ptr<LinearLayer>* MixtralModel::expert_slot(const std::string& n) {
  std::string rest;
  const auto [l, e] = expert_of(n, &rest);
  if (l < 0) return nullptr;
  MixtralExpert& ex = blocks_[size_t(l)].experts[size_t(e)];
  return rest == "w1" ? &ex.w1 : rest == "w3" ? &ex.w3 : rest == "w2" ? &ex.w2 : nullptr;
}

std::vector<std::string> MixtralModel::linear_names() const {
  std::vector<std::string> out;
  for (int l = 0; l < num_layers(); ++l) {
    for (const LinearSlot<MixtralBlock>& s : kMixtralLinears) out.push_back(str("model.layers.", l, ".", s.name));
    for (int e = 0; e < cfg_.n_experts; ++e)
      for (const char* w : kExpertLayers) out.push_back(expert_prefix(l, e) + w);
  }
  out.push_back("lm_head");
  return out;
}

const LinearLayer& MixtralModel::linear(const std::string& n) const {
  if (auto* s = const_cast<MixtralModel*>(this)->expert_slot(n)) return **s;
  return TableModel::linear(n);
}

std::unique_ptr<LinearLayer> MixtralModel::replace_linear(const std::string& n, std::unique_ptr<LinearLayer> layer) {
  if (auto* s = expert_slot(n)) return swap_linear(*s, std::move(layer), n);
  return TableModel::replace_linear(n, std::move(layer));
}

std::vector<SmoothGroup> MixtralModel::smooth_groups() const {
  std::vector<SmoothGroup> out;
  const std::vector<SmoothGroup> attn = TableModel::smooth_groups();  // input_layernorm -> q, k, v per block
  for (int l = 0; l < num_layers(); ++l) {
    out.push_back(attn.at(size_t(l)));
    if (smooth_stats_ == MoeSmoothStats::kAll) {
      SmoothGroup g{str("model.layers.", l, ".post_attention_layernorm"), {}};
      for (int e = 0; e < cfg_.n_experts; ++e)
        for (const char* w : {"w1", "w3"}) g.layers.push_back(expert_prefix(l, e) + w);
      out.push_back(std::move(g));
    } else {
      for (int e = 0; e < cfg_.n_experts; ++e)
        out.push_back({expert_prefix(l, e) + "input_scale", {expert_prefix(l, e) + "w1", expert_prefix(l, e) + "w3"}});
    }
  }
  return out;
}

void MixtralModel::divide_norm(const std::string& n, const VectorF& divisor) {
  std::string rest;
  if (const auto [l, e] = expert_of(n, &rest); l >= 0 && rest == "input_scale") {
    VectorF& d = blocks_[size_t(l)].experts[size_t(e)].input_divisor;
    if (divisor.size() != cfg_.attn.hidden)
      throw Error(str("divide_norm ", n, ": divisor has ", divisor.size(), " entries, expected ", cfg_.attn.hidden));
    d = d.size() ? VectorF(d.cwiseProduct(divisor)) : divisor;
    return;
  }
  TableModel::divide_norm(n, divisor);  // checks the name and the size
  const int l = block_index(n, "model.layers.", num_layers(), &rest);
  if (l >= 0 && rest == "post_attention_layernorm") {
    // The router reads the norm's output too: its columns take the factor the
    // experts' columns take, so its logits (and the routing) do not change.
    MatrixF& r = blocks_[size_t(l)].router;
    r.array().rowwise() *= divisor.transpose().array();
  }
}

VectorF MixtralModel::norm_weight(const std::string& n) const {
  std::string rest;
  if (const auto [l, e] = expert_of(n, &rest); l >= 0 && rest == "input_scale") {
    const VectorF& d = blocks_[size_t(l)].experts[size_t(e)].input_divisor;
    return d.size() ? VectorF(d.cwiseInverse()) : VectorF(VectorF::Ones(cfg_.attn.hidden));
  }
  return TableModel::norm_weight(n);
}

void MixtralModel::set_router(int layer, const MatrixF& w) {
  MatrixF& r = blocks_.at(size_t(layer)).router;
  if (w.rows() != r.rows() || w.cols() != r.cols()) throw Error("set_router: shape differs from the router's");
  r = w;
}

// ---------------------------------------------------------------- config and loading

void MixtralConfig::validate(const std::string& what) {
  attn.validate(what);
  if (n_experts <= 0) throw Error(what + ": \"num_local_experts\" must be positive");
  if (top_k <= 0 || top_k > n_experts)
    throw Error(str(what, ": \"num_experts_per_tok\" ", top_k, " must be in 1..num_local_experts (", n_experts, ")"));
}

MixtralModel MixtralModel::from_weights(const MixtralConfig& cfg, const WeightSource& src) {
  MixtralModel m;
  m.cfg_ = cfg;
  const LlamaConfig& c = cfg.attn;
  const BlockDims d{c.hidden, long(c.n_heads) * c.head_dim, long(c.n_kv_heads) * c.head_dim, c.ffn};
  m.load_embeddings(src, d, c.vocab);
  m.load_blocks(src, d, c.n_layers);  // norms and attention
  for (int l = 0; l < c.n_layers; ++l) {
    MixtralBlock& b = m.blocks_[size_t(l)];
    b.router = src.load(str("model.layers.", l, ".", kMoe, "gate.weight"), cfg.n_experts, d.hidden);
    b.experts.resize(size_t(cfg.n_experts));
    for (int e = 0; e < cfg.n_experts; ++e) {
      const std::string p = expert_prefix(l, e);
      MixtralExpert& ex = b.experts[size_t(e)];
      ex.w1 = load_float_linear(src, p + "w1.weight", d.ffn, d.hidden);
      ex.w3 = load_float_linear(src, p + "w3.weight", d.ffn, d.hidden);
      ex.w2 = load_float_linear(src, p + "w2.weight", d.hidden, d.ffn);
    }
  }
  m.load_head(src, d, c.vocab, c.tied_embeddings);
  return m;
}

}  // namespace sqsim
