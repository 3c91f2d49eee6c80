#pragma once
// How many KV blocks a memory budget buys for a model: plan_kv_cache sizes the engine's cache,
// plan_memory answers `llmserve kv-plan` (weights and KV cache together, per context length).
// Pure arithmetic on the ModelSpec; nothing here reads weights or touches a device.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

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

// Bytes one token's K and V take across all layers: num_layers x 2 x num_kv_heads x head_dim x
// dtype_bytes. Every KV sizing (the engine's plan, kv-plan's) goes through this one formula.
std::int64_t kv_bytes_per_token(const model::ModelSpec& spec, std::size_t dtype_bytes);

// Blocks that fit in `memory_bytes`, capped at what max_num_seqs sequences of max_model_len tokens
// could ever use. Throws llmserve::Error when max_model_len exceeds the model's positions or when
// the budget cannot hold one sequence of max_model_len tokens (the scheduler's no-starvation
// guarantee rests on that).
KvCachePlan plan_kv_cache(const model::ModelSpec& spec, const config::EngineConfig& config,
                          std::size_t dtype_bytes, std::int64_t memory_bytes);

// What one context length gets from a MemoryPlan's blocks.
struct ContextCapacity {
  std::int32_t context_len = 0;
  std::int64_t blocks_per_seq = 0;  // ceil(context_len / block_size): blocks are never shared
  std::int64_t max_num_seqs = 0;    // floor(num_blocks / blocks_per_seq), all at full length
  // Longer than the model's max_position_embeddings: reported, but the model cannot serve it.
  bool beyond_max_position_embeddings = false;
};

// A memory budget for weights and KV cache together. Weights come first (every parameter in the
// planned dtype); the KV cache gets the rest. Activations, workspace and allocator slack are not
// counted, so the sequence counts are upper bounds.
struct MemoryPlan {
  std::int64_t memory_bytes = 0;
  std::int64_t num_parameters = 0;   // model::parameter_count
  std::int64_t weights_bytes = 0;    // num_parameters x dtype bytes
  std::int64_t kv_budget_bytes = 0;  // memory_bytes - weights_bytes
  std::int64_t kv_bytes_per_token = 0;
  std::int32_t block_size = 0;
  std::int64_t kv_bytes_per_block = 0;
  std::int64_t num_blocks = 0;            // whole blocks in kv_budget_bytes
  std::vector<ContextCapacity> contexts;  // in the order asked for
  std::int64_t num_tokens() const { return num_blocks * block_size; }
};

// Throws llmserve::Error when the weights alone do not fit in memory_bytes, and for a block size
// or a context length below 1.
MemoryPlan plan_memory(const model::ModelSpec& spec, std::size_t dtype_bytes,
                       std::int32_t block_size, std::int64_t memory_bytes,
                       std::span<const std::int32_t> context_lens);

}  // namespace llmserve::engine
