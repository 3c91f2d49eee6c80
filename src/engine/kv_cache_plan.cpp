#include "llmserve/engine/kv_cache_plan.h"

#include <algorithm>
#include <limits>

#include "llmserve/common/error.h"
#include "llmserve/model/model_weights.h"

namespace llmserve::engine {
namespace {

std::int64_t blocks_for_tokens(std::int64_t num_tokens, std::int32_t block_size) {
  return (num_tokens + block_size - 1) / block_size;
}

double gib(std::int64_t bytes) { return static_cast<double>(bytes) / (std::int64_t{1} << 30); }

}  // namespace

std::int64_t kv_bytes_per_token(const model::ModelSpec& spec, std::size_t dtype_bytes) {
  return std::int64_t{spec.num_layers} * 2 * spec.num_kv_heads * spec.head_dim *
         static_cast<std::int64_t>(dtype_bytes);
}

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
  plan.bytes_per_block = kv_bytes_per_token(spec, dtype_bytes) * config.block_size;
  const std::int64_t blocks_per_seq = blocks_for_tokens(plan.max_model_len, config.block_size);
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

MemoryPlan plan_memory(const model::ModelSpec& spec, std::size_t dtype_bytes,
                       std::int32_t block_size, std::int64_t memory_bytes,
                       std::span<const std::int32_t> context_lens) {
  if (block_size < 1) throw Error("the block size must be at least 1, got {}", block_size);
  MemoryPlan plan;
  plan.memory_bytes = memory_bytes;
  plan.num_parameters = model::parameter_count(spec);
  plan.weights_bytes = plan.num_parameters * static_cast<std::int64_t>(dtype_bytes);
  if (plan.weights_bytes > memory_bytes) {
    throw Error(
        "the weights alone ({} parameters x {} bytes = {} bytes, {:.2f} GiB) do not fit in {} "
        "bytes ({:.2f} GiB) of memory",
        plan.num_parameters, dtype_bytes, plan.weights_bytes, gib(plan.weights_bytes), memory_bytes,
        gib(memory_bytes));
  }
  plan.kv_budget_bytes = memory_bytes - plan.weights_bytes;
  plan.kv_bytes_per_token = kv_bytes_per_token(spec, dtype_bytes);
  plan.block_size = block_size;
  plan.kv_bytes_per_block = plan.kv_bytes_per_token * block_size;
  plan.num_blocks = plan.kv_budget_bytes / plan.kv_bytes_per_block;
  for (const std::int32_t context_len : context_lens) {
    if (context_len < 1) throw Error("a context length must be at least 1, got {}", context_len);
    ContextCapacity capacity;
    capacity.context_len = context_len;
    capacity.blocks_per_seq = blocks_for_tokens(context_len, block_size);
    capacity.max_num_seqs = plan.num_blocks / capacity.blocks_per_seq;
    capacity.beyond_max_position_embeddings = context_len > spec.max_position_embeddings;
    plan.contexts.push_back(capacity);
  }
  return plan;
}

}  // namespace llmserve::engine
