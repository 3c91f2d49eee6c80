#include <gtest/gtest.h>

#include "llmserve/common/error.h"
#include "llmserve/engine/kv_cache_plan.h"

namespace llmserve::engine {
namespace {

// Qwen2.5-0.5B's attention geometry: 24 layers, 2 KV heads of 64, 32768 positions.
model::ModelSpec qwen_like() {
  model::ModelSpec spec;
  spec.num_layers = 24;
  spec.num_kv_heads = 2;
  spec.head_dim = 64;
  spec.max_position_embeddings = 32768;
  return spec;
}

TEST(KvCachePlan, BlocksFromTheBudget) {
  config::EngineConfig config;  // block size 16
  config.max_model_len = 4096;
  // Per token: 24 layers x (K + V) x 2 heads x 64 x 4 bytes = 24576; per block x16 = 393216.
  const auto plan = plan_kv_cache(qwen_like(), config, 4, std::int64_t{1} << 30);
  EXPECT_EQ(plan.bytes_per_block, 393216);
  EXPECT_EQ(plan.num_blocks, (std::int64_t{1} << 30) / 393216);  // 2730
  EXPECT_EQ(plan.max_model_len, 4096);
  EXPECT_LE(plan.bytes(), std::int64_t{1} << 30);
}

TEST(KvCachePlan, NeverMoreThanTheSequencesCouldUse) {
  config::EngineConfig config;
  config.max_model_len = 100;  // 7 blocks of 16
  config.max_num_seqs = 3;
  EXPECT_EQ(plan_kv_cache(qwen_like(), config, 2, std::int64_t{1} << 40).num_blocks, 21);
}

TEST(KvCachePlan, RefusesWhatCannotWork) {
  config::EngineConfig config;
  EXPECT_EQ(plan_kv_cache(qwen_like(), config, 2, std::int64_t{1} << 40).max_model_len, 32768);
  config.max_model_len = 40000;  // beyond the model's positions
  EXPECT_THROW(plan_kv_cache(qwen_like(), config, 2, std::int64_t{1} << 40), Error);
  config.max_model_len = 4096;  // 256 blocks of 196608 bytes (bf16) = 48 MiB for one sequence
  EXPECT_THROW(plan_kv_cache(qwen_like(), config, 2, 256 * 196608 - 1), Error);
  EXPECT_EQ(plan_kv_cache(qwen_like(), config, 2, 256 * 196608).num_blocks, 256);
}

}  // namespace
}  // namespace llmserve::engine
