#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmserve/common/error.h"
#include "llmserve/model/model_spec.h"

namespace llmserve::model {
namespace {

using nlohmann::json;

// The real gpt2 config.json (abridged to the fields that matter; HF ships more).
json gpt2_config() {
  return json::parse(R"({"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
    "bos_token_id": 50256, "eos_token_id": 50256, "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12,
    "n_positions": 1024, "vocab_size": 50257})");
}

// Qwen2.5-0.5B-Instruct's config.json.
json qwen2_config() {
  return json::parse(R"({"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896,
    "initializer_range": 0.02, "intermediate_size": 4864, "max_position_embeddings": 32768,
    "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 14,
    "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
    "torch_dtype": "bfloat16", "transformers_version": "4.43.1", "use_cache": true,
    "use_sliding_window": false, "vocab_size": 151936})");
}

std::string error_of(const json& config) {
  try {
    parse_model_config(config.dump(), "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelSpec, Gpt2) {
  const auto spec = parse_model_config(gpt2_config().dump(), "config.json");
  EXPECT_EQ(spec.architecture, Architecture::kGpt2);
  EXPECT_EQ(spec.hidden_size, 768);
  EXPECT_EQ(spec.num_kv_heads, 12);
  EXPECT_EQ(spec.head_dim, 64);
  EXPECT_EQ(spec.intermediate_size, 3072);
  EXPECT_EQ(spec.max_position_embeddings, 1024);
  EXPECT_EQ(spec.norm, NormKind::kLayerNorm);
  EXPECT_EQ(spec.positions, PositionKind::kLearned);
  EXPECT_TRUE(spec.tie_word_embeddings);
  EXPECT_EQ(spec.eos_token_ids, std::vector<std::int32_t>{50256});
}

TEST(ModelSpec, Qwen2) {
  const auto spec = parse_model_config(qwen2_config().dump(), "config.json");
  EXPECT_EQ(spec.architecture, Architecture::kQwen2);
  EXPECT_EQ(spec.num_heads, 14);
  EXPECT_EQ(spec.num_kv_heads, 2);
  EXPECT_EQ(spec.head_dim, 64);
  EXPECT_EQ(spec.intermediate_size, 4864);
  EXPECT_FLOAT_EQ(spec.rope_theta, 1e6f);
  EXPECT_FLOAT_EQ(spec.norm_eps, 1e-6f);
  EXPECT_EQ(spec.activation, Activation::kSiluGated);
  EXPECT_TRUE(spec.qkv_bias);
  EXPECT_TRUE(spec.tie_word_embeddings);
  EXPECT_FALSE(spec.o_bias);
  EXPECT_EQ(spec.eos_token_ids, std::vector<std::int32_t>{151645});
}

TEST(ModelSpec, LlamaSharesThePath) {
  auto config = qwen2_config();
  config["architectures"] = {"LlamaForCausalLM"};
  config["tie_word_embeddings"] = false;
  config["eos_token_id"] = {128001, 128009};
  config.erase("num_key_value_heads");
  const auto spec = parse_model_config(config.dump(), "config.json");
  EXPECT_EQ(spec.architecture, Architecture::kLlama);
  EXPECT_FALSE(spec.qkv_bias);
  EXPECT_FALSE(spec.tie_word_embeddings);
  EXPECT_EQ(spec.num_kv_heads, 14);
  EXPECT_EQ(spec.eos_token_ids, (std::vector<std::int32_t>{128001, 128009}));
  config["attention_bias"] = true;
  const auto biased = parse_model_config(config.dump(), "config.json");
  EXPECT_TRUE(biased.qkv_bias);
  EXPECT_TRUE(biased.o_bias);
}

// transformers' defaults: GPT2Config ties the head, Qwen2Config and LlamaConfig do not.
TEST(ModelSpec, TieDefaultsFollowTransformers) {
  auto gpt2 = gpt2_config();
  auto qwen2 = qwen2_config();
  qwen2.erase("tie_word_embeddings");
  EXPECT_TRUE(parse_model_config(gpt2.dump(), "c").tie_word_embeddings);
  EXPECT_FALSE(parse_model_config(qwen2.dump(), "c").tie_word_embeddings);
}

TEST(ModelSpec, ExplicitHeadDim) {
  auto config = qwen2_config();
  config["head_dim"] = 128;
  EXPECT_EQ(parse_model_config(config.dump(), "c").head_dim, 128);
}

// One bad config per row: a base config, the keys merged over it (null erases a key), and what
// the error message must name.
struct BadConfig {
  const char* base;  // "gpt2" or "qwen2"
  const char* patch;
  const char* message;
};

TEST(ModelSpec, ClearErrors) {
  const BadConfig cases[] = {
      {"qwen2", R"({"architectures": ["BertModel"]})", "unsupported architecture \"BertModel\""},
      {"qwen2", R"({"architectures": null})", "architectures"},
      {"qwen2", R"({"hidden_size": null})", "missing \"hidden_size\""},
      {"qwen2", R"({"num_key_value_heads": 3})", "not a multiple"},
      {"gpt2", R"({"n_embd": "768"})", "\"n_embd\" must be a positive integer"},
      {"gpt2", R"({"n_head": 0})", "n_head"},
      {"gpt2", R"({"activation_function": "relu"})", "activation_function"},
      {"qwen2", R"({"rope_scaling": {"type": "yarn"}})", "rope_scaling"},
      {"qwen2", R"({"use_sliding_window": true})", "use_sliding_window"},
      {"qwen2", R"({"architectures": ["LlamaForCausalLM"], "mlp_bias": true})", "mlp_bias"},
      {"gpt2", R"({"scale_attn_weights": false})", "scale_attn_weights"},
      {"gpt2", R"({"scale_attn_by_inverse_layer_idx": true})", "scale_attn_by_inverse_layer_idx"},
      {"qwen2", R"({"eos_token_id": 151936})", "eos_token_id"},
      {"qwen2", R"({"rope_theta": 1e300})", "rope_theta"},
      {"qwen2",
       R"({"num_attention_heads": 16384, "num_key_value_heads": 16384, "head_dim": 16384})",
       "too large"},
  };
  for (const auto& c : cases) {
    json config = std::string_view(c.base) == "gpt2" ? gpt2_config() : qwen2_config();
    config.merge_patch(json::parse(c.patch));
    EXPECT_NE(error_of(config).find(c.message), std::string::npos) << c.patch;
  }
  EXPECT_THROW(parse_model_config("{not json", "c"), Error);
  EXPECT_THROW(parse_model_config("[]", "c"), Error);
}

TEST(ModelSpec, EmptyEosListIsAllowed) {
  auto config = qwen2_config();
  config["eos_token_id"] = json::array();
  EXPECT_TRUE(parse_model_config(config.dump(), "c").eos_token_ids.empty());
}

TEST(ModelSpec, MissingDirectory) { EXPECT_THROW(load_model_spec("/nonexistent/model"), Error); }

}  // namespace
}  // namespace llmserve::model
