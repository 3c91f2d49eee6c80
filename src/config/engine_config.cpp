#include "llmserve/config/engine_config.h"

#include "llmserve/common/error.h"

namespace llmserve::config {

void validate(const EngineConfig& config) {
  if (config.block_size < 1 || config.block_size > 1024) {
    throw Error("--block-size must be in [1, 1024], got {}", config.block_size);
  }
  if (config.kv_cache_memory && *config.kv_cache_memory < 1) {
    throw Error("--kv-cache-memory must be positive, got {}", *config.kv_cache_memory);
  }
  if (!(config.gpu_memory_utilization > 0.0 && config.gpu_memory_utilization <= 1.0)) {
    throw Error("--gpu-memory-utilization must be in (0, 1], got {}",
                config.gpu_memory_utilization);
  }
  if (config.max_num_seqs < 1) {
    throw Error("--max-num-seqs must be at least 1, got {}", config.max_num_seqs);
  }
  if (config.max_num_batched_tokens < config.max_num_seqs) {
    throw Error(
        "--max-num-batched-tokens ({}) must be at least --max-num-seqs ({}): every running "
        "sequence needs one token of the step budget to decode",
        config.max_num_batched_tokens, config.max_num_seqs);
  }
  if (config.max_model_len < 0) {
    throw Error("--max-model-len must be positive (0: the model's), got {}", config.max_model_len);
  }
}

}  // namespace llmserve::config
