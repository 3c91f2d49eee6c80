#pragma once
// What the forward pass needs to know about a model, read from Hugging Face's config.json.
// Architectures differ by data, not by code: GPT-2, Qwen2 and Llama all become a ModelSpec and
// run through the same ModelRunner.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace llmserve::model {

enum class Architecture { kGpt2, kQwen2, kLlama };
enum class NormKind { kLayerNorm, kRmsNorm };
enum class Activation { kGeluNew, kSiluGated };
enum class PositionKind { kLearned, kRotary };

struct ModelSpec {
  Architecture architecture = Architecture::kGpt2;
  std::string architecture_name;  // as config.json spells it, e.g. "Qwen2ForCausalLM"
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
  bool qkv_bias = false;     // Qwen2: q/k/v projections have bias, o_proj does not
  bool linear_bias = false;  // GPT-2: every linear has a bias
  std::optional<std::int32_t> bos_token_id;
  std::optional<std::int32_t> eos_token_id;

  std::int32_t q_size() const { return num_heads * head_dim; }
  std::int32_t kv_size() const { return num_kv_heads * head_dim; }
};

std::string_view architecture_name(Architecture architecture);

// Parses config.json text; `source` names it in errors. Unsupported architectures, missing or
// non-positive sizes and inconsistent head counts throw llmserve::Error. Pure: fuzzed.
ModelSpec parse_model_config(std::string_view json_text, std::string_view source);

// Reads DIR/config.json.
ModelSpec load_model_spec(const std::filesystem::path& dir);

}  // namespace llmserve::model
