#include "llmserve/engine/offline_generator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "llmserve/common/error.h"

namespace llmserve::engine {
namespace {

void validate(const model::ModelSpec& spec, const OfflineRequest& request) {
  if (request.prompt_ids.empty()) throw Error("the prompt is empty");
  if (request.max_tokens < 1) {
    throw Error("max_tokens must be at least 1, got {}", request.max_tokens);
  }
  if (!std::isfinite(request.temperature) || request.temperature < 0.0f) {
    throw Error("temperature must be a finite number >= 0, got {}", request.temperature);
  }
  if (request.logprobs < 0) throw Error("logprobs must be >= 0, got {}", request.logprobs);
  if (request.block_size < 1) {
    throw Error("block_size must be at least 1, got {}", request.block_size);
  }
  for (auto id : request.prompt_ids) {
    if (id < 0 || id >= spec.vocab_size) {
      throw Error("prompt token id {} is outside the vocabulary [0, {})", id, spec.vocab_size);
    }
  }
  const auto total = static_cast<std::int64_t>(request.prompt_ids.size()) + request.max_tokens;
  if (total > spec.max_position_embeddings) {
    throw Error("prompt ({} tokens) + max_tokens ({}) = {} exceeds the model's context of {}",
                request.prompt_ids.size(), request.max_tokens, total, spec.max_position_embeddings);
  }
}

}  // namespace

OfflineResult generate_offline(model::ModelRunner& runner, const OfflineRequest& request,
                               const std::function<void(std::int32_t)>& on_token) {
  const model::ModelSpec& spec = runner.spec();
  validate(spec, request);
  const std::int32_t bs = request.block_size;
  const auto max_len = static_cast<std::int32_t>(request.prompt_ids.size()) + request.max_tokens;
  const std::int32_t num_blocks = (max_len + bs - 1) / bs;
  runner.allocate_kv_cache(num_blocks, bs);

  backend::Batch batch;
  batch.max_blocks_per_seq = num_blocks;
  batch.block_tables.resize(static_cast<std::size_t>(num_blocks));
  std::iota(batch.block_tables.begin(), batch.block_tables.end(), 0);
  batch.query_start = {0, 0};
  batch.context_lens = {0};
  batch.logits_rows = {0};

  OfflineResult result;
  std::mt19937_64 rng(request.seed);
  std::vector<std::int32_t> step_ids = request.prompt_ids;
  std::int32_t context = 0;
  std::vector<float> logits(static_cast<std::size_t>(spec.vocab_size));
  while (true) {
    const auto n = static_cast<std::int32_t>(step_ids.size());
    batch.input_ids = step_ids;
    batch.positions.resize(static_cast<std::size_t>(n));
    batch.slot_mapping.resize(static_cast<std::size_t>(n));
    for (std::int32_t i = 0; i < n; ++i) {
      const std::int32_t pos = context + i;
      batch.positions[static_cast<std::size_t>(i)] = pos;
      batch.slot_mapping[static_cast<std::size_t>(i)] =
          std::int64_t{batch.block_tables[static_cast<std::size_t>(pos / bs)]} * bs + pos % bs;
    }
    context += n;
    batch.query_start[1] = n;
    batch.context_lens[0] = context;
    batch.logits_rows[0] = n - 1;
    runner.backend().download(runner.execute(batch), logits);

    const std::int32_t token = sample_token(logits, request.temperature, rng);
    if (request.logprobs > 0)
      result.logprobs.push_back(top_logprobs(log_softmax(logits), request.logprobs));
    result.token_ids.push_back(token);
    if (on_token) on_token(token);
    if (!request.ignore_eos && std::find(request.eos_token_ids.begin(), request.eos_token_ids.end(),
                                         token) != request.eos_token_ids.end()) {
      result.finish_reason = "stop";
      break;
    }
    if (static_cast<std::int32_t>(result.token_ids.size()) >= request.max_tokens) {
      result.finish_reason = "length";
      break;
    }
    step_ids.assign(1, token);
  }
  return result;
}

}  // namespace llmserve::engine
