#pragma once
// How the engine is sized and scheduled: the flags of DESIGN.md section 8 that reach the engine.
// Shared by `serve` and `generate`, so an offline run measures the engine a server would run.
#include <cstdint>
#include <optional>

namespace llmserve::config {

inline constexpr std::int64_t kDefaultCpuKvCacheMemory = std::int64_t{4} << 30;

struct EngineConfig {
  std::int32_t block_size = 16;
  // KV cache budget in bytes, on any backend. Unset: kDefaultCpuKvCacheMemory on the CPU; on a
  // device, gpu_memory_utilization x the device's total memory minus what weights, activations
  // and everything else already use when the cache is planned. The cache is never made larger
  // than max_num_seqs sequences of max_model_len tokens could use.
  std::optional<std::int64_t> kv_cache_memory;
  double gpu_memory_utilization = 0.9;
  std::int32_t max_num_seqs = 256;
  std::int32_t max_num_batched_tokens = 2048;
  std::int32_t max_model_len = 0;  // 0: the model's max_position_embeddings
  bool enable_prefix_caching = false;
  // Runs every step op by op. Otherwise a backend that can (CUDA) replays decode steps from
  // graphs captured per batch-size bucket at startup.
  bool enforce_eager = false;
};

// Throws llmserve::Error for values out of range or combinations that cannot work
// (max_num_batched_tokens < max_num_seqs would leave decodes unscheduled).
void validate(const EngineConfig& config);

}  // namespace llmserve::config
