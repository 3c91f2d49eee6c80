#pragma once
// How many KV blocks a memory budget buys for a model, and whether that is enough.
#include <cstddef>
#include <cstdint>

#include "llmserve/config/engine_config.h"
#include "llmserve/model/model_spec.h"

namespace llmserve::engine {

struct KvCachePlan {
  std::int32_t num_blocks = 0;
  std::int32_t block_size = 0;
  std::int32_t max_model_len = 0;    // the config's, or the model's when the config says 0
  std::int64_t bytes_per_block = 0;  // all layers, K and V
  std::int64_t bytes() const { return bytes_per_block * num_blocks; }
};

// Blocks that fit in `memory_bytes`, capped at what max_num_seqs sequences of max_model_len tokens
// could ever use. Throws llmserve::Error when max_model_len exceeds the model's positions or when
// the budget cannot hold one sequence of max_model_len tokens (the scheduler's no-starvation
// guarantee rests on that).
KvCachePlan plan_kv_cache(const model::ModelSpec& spec, const config::EngineConfig& config,
                          std::size_t dtype_bytes, std::int64_t memory_bytes);

}  // namespace llmserve::engine
