#pragma once
// `sqsim ppl --kl-base fp|FILE`: how far a preset's next-token distributions
// are from the float model's (docs/statistics.md), with llama.cpp's
// statistics, the preset's perplexity ± stderr and its paired ratio to the
// base's on the same tokens. The base is the float model run in this process
// window by window (`fp`: exact), or a base file written once by
// --kl-base-save and read back (sim/eval/kl_base_file.h).
#include <string>

#include "experiments/ppl_job.h"
#include "sim/eval/kl_divergence.h"

namespace sqsim::cli {

// sha256 of a model file, or of a Hugging Face folder (the sha256 of its
// files' sha256 lines "name digest", in name order).
std::string model_sha256(const std::string& path);

// The key lines of a base file: the model file's and the scored tokens'
// sha256, so a base made by another model, tokenizer or text is refused.
std::string kl_base_key(const std::string& model_digest, const std::vector<int32_t>& ids);

// Runs job.kl_base / job.kl_base_save for job.config and its one alpha choice.
int run_kl_job(const PplJob& job);

}  // namespace sqsim::cli
