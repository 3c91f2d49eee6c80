#include "llmserve/engine/kv_cache_plan.h"

#include <algorithm>
#include <limits>

#include "llmserve/common/error.h"

namespace llmserve::engine {

KvCachePlan plan_kv_cache(const model::ModelSpec& spec, const config::EngineConfig& config,
                          std::size_t dtype_bytes, std::int64_t memory_bytes) {
  KvCachePlan plan;
  plan.block_size = config.block_size;
  plan.max_model_len =
      config.max_model_len > 0 ? config.max_model_len : spec.max_position_embeddings;
  if (plan.max_model_len > spec.max_position_embeddings) {
    throw Error("--max-model-len {} exceeds the model's {} positions (max_position_embeddings)",
                plan.max_model_len, spec.max_position_embeddings);
  }
  plan.bytes_per_block = std::int64_t{2} * spec.num_layers * config.block_size * spec.num_kv_heads *
                         spec.head_dim * static_cast<std::int64_t>(dtype_bytes);
  const std::int64_t blocks_per_seq =
      (plan.max_model_len + config.block_size - 1) / config.block_size;
  const std::int64_t affordable = memory_bytes / plan.bytes_per_block;
  if (affordable < blocks_per_seq) {
    throw Error(
        "a KV cache of {} bytes holds {} blocks of {} tokens ({} bytes each), fewer than the {} "
        "one sequence of --max-model-len {} needs: raise the KV memory or lower --max-model-len",
        memory_bytes, affordable, config.block_size, plan.bytes_per_block, blocks_per_seq,
        plan.max_model_len);
  }
  const std::int64_t useful = blocks_per_seq * config.max_num_seqs;
  plan.num_blocks = static_cast<std::int32_t>(
      std::min({affordable, useful, std::int64_t{std::numeric_limits<std::int32_t>::max()}}));
  return plan;
}

}  // namespace llmserve::engine
