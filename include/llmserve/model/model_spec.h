#pragma once
// What the forward pass needs to know about a model, read from Hugging Face's config.json.
// Architectures differ by data, not by code: GPT-2, Qwen2 and Llama all become a ModelSpec and
// run through the same ModelRunner.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace llmserve::model {

enum class Architecture { kGpt2, kQwen2, kLlama };
enum class NormKind { kLayerNorm, kRmsNorm };
enum class Activation { kGeluNew, kSiluGated };
enum class PositionKind { kLearned, kRotary };

struct ModelSpec {
  Architecture architecture = Architecture::kGpt2;
  std::string architecture_name;  // the Hugging Face class, e.g. "Qwen2ForCausalLM"
  std::int32_t vocab_size = 0;
  std::int32_t hidden_size = 0;
  std::int32_t num_layers = 0;
  std::int32_t num_heads = 0;
  std::int32_t num_kv_heads = 0;
  std::int32_t head_dim = 0;
  std::int32_t intermediate_size = 0;
  std::int32_t max_position_embeddings = 0;
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  NormKind norm = NormKind::kLayerNorm;
  Activation activation = Activation::kGeluNew;
  PositionKind positions = PositionKind::kLearned;
  bool tie_word_embeddings = true;
  bool qkv_bias = false;  // Qwen2, and Llama with attention_bias
  bool o_bias = false;    // Llama with attention_bias (Qwen2 has none on o_proj)
  // Generation stops at any of these (config.json and generation_config.json together), each
  // inside [0, vocab_size).
  std::vector<std::int32_t> eos_token_ids;

  // Parsing caps every size so that these and every activation width fit in 32 bits.
  std::int32_t q_size() const { return num_heads * head_dim; }
  std::int32_t kv_size() const { return num_kv_heads * head_dim; }
};

std::string_view architecture_name(Architecture architecture);

// Parses config.json text; `source` names it in errors. Unsupported architectures, missing or
// non-positive sizes and inconsistent head counts throw llmserve::Error. Pure: fuzzed.
ModelSpec parse_model_config(std::string_view json_text, std::string_view source);

// Reads DIR/config.json, and the eos_token_id of DIR/generation_config.json when present.
ModelSpec load_model_spec(const std::filesystem::path& dir);

}  // namespace llmserve::model
