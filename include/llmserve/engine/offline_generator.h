#pragma once
// One prompt, generated to completion on the calling thread: what `llmserve generate` runs.
// It drives ModelRunner with the same Batch/paged-KV contract the engine uses (prefill of the
// whole prompt, then one decode token per step), allocating just the blocks the request needs.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "llmserve/engine/sampling.h"
#include "llmserve/model/model_runner.h"

namespace llmserve::engine {

struct OfflineRequest {
  std::vector<std::int32_t> prompt_ids;
  std::int32_t max_tokens = 16;
  float temperature = 0.0f;
  std::uint64_t seed = 0;
  bool ignore_eos = false;
  std::int32_t logprobs = 0;                // top-K logprobs per generated token; 0 = none
  std::vector<std::int32_t> eos_token_ids;  // any of them stops generation
  std::int32_t block_size = 16;
};

struct OfflineResult {
  std::vector<std::int32_t> token_ids;
  std::vector<std::vector<TokenLogprob>> logprobs;  // [generated][K] when asked
  std::string finish_reason;                        // "stop" (EOS) or "length"
};

// Validates the request against the model (non-empty prompt, ids inside the vocabulary,
// prompt + max_tokens within max_position_embeddings) and throws llmserve::Error when it does not
// fit. `on_token` sees each token as it is sampled.
OfflineResult generate_offline(model::ModelRunner& runner, const OfflineRequest& request,
                               const std::function<void(std::int32_t)>& on_token = {});

}  // namespace llmserve::engine
