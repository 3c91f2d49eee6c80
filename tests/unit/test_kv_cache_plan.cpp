#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "llmserve/common/error.h"
#include "llmserve/engine/kv_cache_plan.h"
#include "llmserve/model/model_weights.h"
#include "real_model_configs.h"
#include "temp_dir.h"

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

// Real configs, written as the files kv-plan reads; the counts below are worked by hand from the
// tensors each architecture's checkpoint holds.
class RealModelPlan : public ::testing::Test {
 protected:
  model::ModelSpec load(std::string_view config_json) {
    testing::write_model_config(dir_.path(), config_json);
    return model::load_model_spec(dir_.path());
  }
  model::ModelSpec gpt2_small() { return load(testing::kGpt2SmallConfig); }
  model::ModelSpec qwen25_1_5b() { return load(testing::kQwen25_1_5BConfig); }

  testing::TempDir dir_{"llmserve-kv-plan"};
};

TEST_F(RealModelPlan, ParameterCounts) {
  // GPT-2 small, H = 768, I = 4 x 768 = 3072, tied head:
  //   wte 50257 x 768 = 38,597,376; wpe 1024 x 768 = 786,432
  //   per layer: ln_1 2 x 768 = 1,536; c_attn 768 x 2304 + 2304 = 1,771,776;
  //     attn c_proj 768 x 768 + 768 = 590,592; ln_2 1,536; c_fc 768 x 3072 + 3072 = 2,362,368;
  //     mlp c_proj 3072 x 768 + 768 = 2,360,064; sum 7,087,872, x 12 layers = 85,054,464
  //   ln_f 1,536
  //   38,597,376 + 786,432 + 85,054,464 + 1,536 = 124,439,808
  EXPECT_EQ(model::parameter_count(gpt2_small()), 124'439'808);
  // Qwen2.5-1.5B, H = 1536, q = 12 x 128 = 1536, kv = 2 x 128 = 256, I = 8960, tied head:
  //   embed_tokens 151936 x 1536 = 233,373,696
  //   per layer: input_layernorm 1,536; q_proj 1536 x 1536 + 1536 = 2,360,832;
  //     k_proj 256 x 1536 + 256 = 393,472; v_proj 393,472; o_proj 1536 x 1536 = 2,359,296;
  //     post_attention_layernorm 1,536; gate, up, down 3 x 8960 x 1536 = 41,287,680;
  //     sum 46,797,824, x 28 layers = 1,310,339,072
  //   norm 1,536
  //   233,373,696 + 1,310,339,072 + 1,536 = 1,543,714,304
  EXPECT_EQ(model::parameter_count(qwen25_1_5b()), 1'543'714'304);
}

TEST_F(RealModelPlan, UntiedHeadAndLlamaAttentionBias) {
  auto spec = qwen25_1_5b();
  spec.tie_word_embeddings = false;  // + lm_head 151936 x 1536 = 233,373,696
  EXPECT_EQ(model::parameter_count(spec), 1'543'714'304 + 233'373'696);
  // A tiny Llama with attention_bias: H = 8, 2 heads and 1 KV head of 4, I = 16, V = 10, 2 layers.
  //   embed 10 x 8 = 80
  //   per layer: input norm 8; q/k/v 16 x 8 = 128 + bias 16; o 8 x 8 = 64 + bias 8; post norm 8;
  //     gate, up, down 3 x 16 x 8 = 384; sum 616, x 2 layers = 1,232
  //   norm 8; lm_head (untied by default) 10 x 8 = 80
  //   80 + 1,232 + 8 + 80 = 1,400
  const auto llama = load(R"({"architectures": ["LlamaForCausalLM"], "attention_bias": true,
      "hidden_size": 8, "intermediate_size": 16, "max_position_embeddings": 64,
      "num_attention_heads": 2, "num_hidden_layers": 2, "num_key_value_heads": 1,
      "vocab_size": 10})");
  EXPECT_EQ(model::parameter_count(llama), 1'400);
}

TEST_F(RealModelPlan, KvBytesPerToken) {
  // layers x (K + V) x KV heads x head_dim x 2 bytes (bf16)
  EXPECT_EQ(kv_bytes_per_token(gpt2_small(), 2), 12 * 2 * 12 * 64 * 2);   // 36,864
  EXPECT_EQ(kv_bytes_per_token(qwen25_1_5b(), 2), 28 * 2 * 2 * 128 * 2);  // 28,672
  // The engine's blocks are the same formula times the block size.
  config::EngineConfig config;
  config.max_model_len = 1024;
  EXPECT_EQ(plan_kv_cache(qwen25_1_5b(), config, 2, std::int64_t{1} << 30).bytes_per_block,
            28'672 * 16);
}

TEST_F(RealModelPlan, Qwen25_1_5BInSixteenGiB) {
  const std::vector<std::int32_t> contexts = {512, 2048, 8192, 32768, 40000};
  const auto plan = plan_memory(qwen25_1_5b(), 2, 16, std::int64_t{16} << 30, contexts);
  EXPECT_EQ(plan.memory_bytes, 17'179'869'184);  // 16 x 2^30
  EXPECT_EQ(plan.num_parameters, 1'543'714'304);
  EXPECT_EQ(plan.weights_bytes, 3'087'428'608);     // 1,543,714,304 x 2
  EXPECT_EQ(plan.kv_budget_bytes, 14'092'440'576);  // 17,179,869,184 - 3,087,428,608
  EXPECT_EQ(plan.kv_bytes_per_token, 28'672);
  EXPECT_EQ(plan.kv_bytes_per_block, 458'752);  // 28,672 x 16
  EXPECT_EQ(plan.num_blocks, 30'719);           // 14,092,440,576 / 458,752 = 30,719.3
  EXPECT_EQ(plan.num_tokens(), 491'504);        // 30,719 x 16
  ASSERT_EQ(plan.contexts.size(), 5u);
  // context -> blocks per sequence = ceil(context / 16) -> floor(30,719 / blocks) sequences
  const std::int64_t expected[][2] = {
      {32, 959},   // 512: 30,719 / 32 = 959.97
      {128, 239},  // 2048: 30,719 / 128 = 239.99
      {512, 59},   // 8192: 30,719 / 512 = 59.99
      {2048, 14},  // 32768: 30,719 / 2048 = 14.99
      {2500, 12},  // 40000: 30,719 / 2500 = 12.29, beyond the 32768 positions
  };
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    EXPECT_EQ(plan.contexts[i].context_len, contexts[i]);
    EXPECT_EQ(plan.contexts[i].blocks_per_seq, expected[i][0]) << contexts[i];
    EXPECT_EQ(plan.contexts[i].max_num_seqs, expected[i][1]) << contexts[i];
    EXPECT_EQ(plan.contexts[i].beyond_max_position_embeddings, contexts[i] == 40000);
  }
}

TEST_F(RealModelPlan, Gpt2SmallInTwoGiBOfFp32) {
  const std::vector<std::int32_t> contexts = {1000, 1024, 2048};
  const auto plan = plan_memory(gpt2_small(), 4, 16, std::int64_t{2} << 30, contexts);
  EXPECT_EQ(plan.weights_bytes, 497'759'232);      // 124,439,808 x 4
  EXPECT_EQ(plan.kv_budget_bytes, 1'649'724'416);  // 2,147,483,648 - 497,759,232
  EXPECT_EQ(plan.kv_bytes_per_block, 1'179'648);   // 12 x 2 x 12 x 64 x 4 x 16
  EXPECT_EQ(plan.num_blocks, 1'398);               // 1,649,724,416 / 1,179,648 = 1,398.5
  EXPECT_EQ(plan.contexts[0].blocks_per_seq, 63);  // ceil(1000 / 16) = 62.5 -> 63
  EXPECT_EQ(plan.contexts[0].max_num_seqs, 22);    // 1,398 / 63 = 22.2
  EXPECT_EQ(plan.contexts[1].max_num_seqs, 21);    // 1,398 / 64 = 21.8
  EXPECT_FALSE(plan.contexts[1].beyond_max_position_embeddings);
  EXPECT_EQ(plan.contexts[2].max_num_seqs, 10);                  // 1,398 / 128 = 10.9
  EXPECT_TRUE(plan.contexts[2].beyond_max_position_embeddings);  // n_positions is 1024
}

TEST_F(RealModelPlan, WeightsMustFit) {
  const auto spec = qwen25_1_5b();
  const std::vector<std::int32_t> contexts = {512};
  try {
    plan_memory(spec, 2, 16, 3'087'428'608 - 1, contexts);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weights alone"), std::string::npos) << e.what();
  }
  // Exactly the weights: a plan with no KV cache, no sequence of any length.
  const auto plan = plan_memory(spec, 2, 16, 3'087'428'608, contexts);
  EXPECT_EQ(plan.num_blocks, 0);
  EXPECT_EQ(plan.contexts[0].max_num_seqs, 0);
  EXPECT_THROW(plan_memory(spec, 2, 0, std::int64_t{16} << 30, contexts), Error);
  const std::vector<std::int32_t> empty_context = {0};
  EXPECT_THROW(plan_memory(spec, 2, 16, std::int64_t{16} << 30, empty_context), Error);
}

}  // namespace
}  // namespace llmserve::engine
