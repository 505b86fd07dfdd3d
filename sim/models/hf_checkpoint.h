#pragma once
// Hugging Face checkpoint folders: config.json (model_type "llama", "opt", or
// the Llama-like "mistral", "qwen2", "qwen3", "phi3" through llama_from_hf),
// model.safetensors or sharded model-*.safetensors with
// model.safetensors.index.json (F32/F16/BF16), and tokenizer.json
// (byte-level BPE). docs/hf-checkpoints.md lists what is read and refused.
#include <cstdint>
#include <optional>
#include <string>

#include "sim/tokenizer/bpe_tokenizer.h"
#include "sim/formats/json.h"
#include "sim/models/bloom_model.h"
#include "sim/models/gemma3_model.h"
#include "sim/models/load_model.h"
#include "sim/models/llama_model.h"
#include "sim/models/mixtral_model.h"
#include "sim/models/opt_model.h"

namespace sqsim {

class SafetensorsCheckpoint;

// The one rule for keeping F16/BF16 weight matrices in their 2-byte type
// (widened per use, docs/memory.md) instead of float32 at load:
// SQSIM_WEIGHTS_IN_MEMORY=checkpoint keeps them, =fp32 widens them at load,
// =auto (or unset) keeps them when their float32 copy would exceed
// kKeepCheckpointTypeAboveBytes. The results are the same bits either way;
// float32 is faster (each layer packed once) and 2-byte words take half the
// memory. Other values are refused naming the variable.
constexpr uint64_t kKeepCheckpointTypeAboveBytes = uint64_t(4) << 30;
bool keep_checkpoint_type(uint64_t half_elements);
// The rule for a checkpoint's F16/BF16 tensors (all of them, vectors included).
bool keep_checkpoint_type(const SafetensorsCheckpoint& ckpt);

// config.json -> configs; `what` names the file in errors. Unsupported
// variants (an unknown rope_scaling type, partial rotary, OPT's do_layer_norm_before false, a
// word_embed_proj_dim other than hidden_size, activations other than
// silu/relu, ...) are refused naming the key.
LlamaConfig llama_config_from_hf(const JsonValue& cfg, const std::string& what);
OptConfig opt_config_from_hf(const JsonValue& cfg, const std::string& what);
// BLOOM: apply_residual_connection_post_layernorm true and slow_but_exact
// with pretraining_tp > 1 are refused naming the key.
BloomConfig bloom_config_from_hf(const JsonValue& cfg, const std::string& what);
// Mixtral: the Llama keys plus num_local_experts and num_experts_per_tok
// (at most the former); a non-null sliding_window is refused.
MixtralConfig mixtral_config_from_hf(const JsonValue& cfg, const std::string& what);

// The model of a checkpoint folder, for its config.json (read from
// config_path): the config is checked first (its errors say more than a
// tensor mismatch would), then each tensor's shape before it is read.
std::unique_ptr<CausalLm> llama_from_hf(const JsonValue& cfg, const std::string& config_path, const std::string& dir);
std::unique_ptr<CausalLm> opt_from_hf(const JsonValue& cfg, const std::string& config_path, const std::string& dir);
std::unique_ptr<CausalLm> bloom_from_hf(const JsonValue& cfg, const std::string& config_path, const std::string& dir);
std::unique_ptr<CausalLm> mixtral_from_hf(const JsonValue& cfg, const std::string& config_path, const std::string& dir);
std::unique_ptr<CausalLm> gemma3_from_hf(const JsonValue& cfg, const std::string& config_path, const std::string& dir);

// A tokenizer.json (already parsed) as sqsim's tokenizer, and the BOS its
// post_processor prepends (TemplateProcessing "<bos> $A"), if any.
struct HfTokenizer {
  BpeTokenizer tokenizer;
  std::optional<int32_t> bos;
};
HfTokenizer tokenizer_from_hf_json(const JsonValue& tok, const std::string& what);

// Model, tokenizer and BOS from a checkpoint folder.
LoadedModel load_hf_checkpoint(const std::string& dir);

}  // namespace sqsim
