#include "llmserve/model/model_spec.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <nlohmann/json.hpp>

#include "llmserve/common/error.h"
#include "llmserve/common/file.h"

namespace llmserve::model {
namespace {

using nlohmann::json;

// Larger than any real model's sizes (vocabularies reach 2^18, widths 2^16), small enough that
// every product the forward pass forms (q + 2 kv widths, 2 x intermediate) fits in 32 bits.
constexpr std::int64_t kMaxSize = std::int64_t{1} << 24;

// Reads the first of `keys` present in `config` (HF names differ per architecture:
// n_embd vs hidden_size ...). Wrong types and non-positive sizes are errors naming the key.
class ConfigReader {
 public:
  ConfigReader(const json& config, std::string_view source) : config_(config), source_(source) {}

  const json* find(std::initializer_list<const char*> keys) const {
    for (const char* key : keys) {
      auto it = config_.find(key);
      if (it != config_.end() && !it->is_null()) return &*it;
    }
    return nullptr;
  }

  std::int32_t positive_int(std::initializer_list<const char*> keys) const {
    const json* value = find(keys);
    if (value == nullptr) throw Error("{}: missing \"{}\"", source_, *keys.begin());
    return checked_positive(*value, *keys.begin());
  }

  std::optional<std::int32_t> optional_positive_int(std::initializer_list<const char*> keys) const {
    const json* value = find(keys);
    if (value == nullptr) return std::nullopt;
    return checked_positive(*value, *keys.begin());
  }

  float positive_float(std::initializer_list<const char*> keys, float fallback) const {
    const json* value = find(keys);
    if (value == nullptr) return fallback;
    if (!value->is_number() || !(value->get<double>() > 0.0) || value->get<double>() > FLT_MAX) {
      throw Error("{}: \"{}\" must be a positive number, got {}", source_, *keys.begin(),
                  value->dump());
    }
    return value->get<float>();
  }

  bool boolean(const char* key, bool fallback) const {
    const json* value = find({key});
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) throw Error("{}: \"{}\" must be a boolean", source_, key);
    return value->get<bool>();
  }

  // An id or a list of ids (Llama 3 and Qwen2.5 list several eos ids); each inside the vocab.
  std::vector<std::int32_t> token_ids(const char* key, std::int32_t vocab_size) const {
    const json* value = find({key});
    if (value == nullptr) return {};
    const json list = value->is_array() ? *value : json::array({*value});
    std::vector<std::int32_t> ids;
    for (const json& id : list) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
          id.get<std::int64_t>() >= vocab_size) {
        throw Error("{}: \"{}\" must hold token ids in [0, {}), got {}", source_, key, vocab_size,
                    value->dump());
      }
      ids.push_back(static_cast<std::int32_t>(id.get<std::int64_t>()));
    }
    return ids;
  }

 private:
  std::int32_t checked_positive(const json& value, const char* key) const {
    if (!value.is_number_integer() || value.get<std::int64_t>() <= 0 ||
        value.get<std::int64_t>() > kMaxSize) {
      throw Error("{}: \"{}\" must be a positive integer up to {}, got {}", source_, key, kMaxSize,
                  value.dump());
    }
    return static_cast<std::int32_t>(value.get<std::int64_t>());
  }

  const json& config_;
  std::string_view source_;
};

Architecture parse_architecture(const json& config, std::string_view source) {
  auto it = config.find("architectures");
  if (it == config.end() || !it->is_array() || it->empty() || !it->front().is_string()) {
    throw Error("{}: missing \"architectures\" (expected e.g. [\"GPT2LMHeadModel\"])", source);
  }
  const auto name = it->front().get<std::string>();
  if (name == "GPT2LMHeadModel") return Architecture::kGpt2;
  if (name == "Qwen2ForCausalLM") return Architecture::kQwen2;
  if (name == "LlamaForCausalLM") return Architecture::kLlama;
  throw Error(
      "{}: unsupported architecture \"{}\" (supported: GPT2LMHeadModel, Qwen2ForCausalLM, "
      "LlamaForCausalLM)",
      source, name);
}

void read_gpt2(const ConfigReader& reader, ModelSpec& spec, std::string_view source) {
  spec.hidden_size = reader.positive_int({"n_embd", "hidden_size"});
  spec.num_layers = reader.positive_int({"n_layer", "num_hidden_layers"});
  spec.num_heads = reader.positive_int({"n_head", "num_attention_heads"});
  spec.num_kv_heads = spec.num_heads;
  spec.max_position_embeddings = reader.positive_int({"n_positions", "max_position_embeddings"});
  spec.intermediate_size = reader.optional_positive_int({"n_inner"}).value_or(4 * spec.hidden_size);
  spec.norm_eps = reader.positive_float({"layer_norm_epsilon"}, 1e-5f);
  spec.norm = NormKind::kLayerNorm;
  spec.positions = PositionKind::kLearned;
  const json* activation = reader.find({"activation_function"});
  if (activation != nullptr && *activation != "gelu_new" && *activation != "gelu_pytorch_tanh") {
    throw Error("{}: unsupported activation_function {} (supported: gelu_new)", source,
                activation->dump());
  }
  spec.activation = Activation::kGeluNew;
  if (reader.boolean("scale_attn_by_inverse_layer_idx", false)) {
    throw Error("{}: scale_attn_by_inverse_layer_idx is not supported", source);
  }
  if (!reader.boolean("scale_attn_weights", true)) {
    throw Error("{}: scale_attn_weights false (unscaled attention) is not supported", source);
  }
  if (spec.hidden_size % spec.num_heads != 0) {
    throw Error("{}: n_embd {} is not a multiple of n_head {}", source, spec.hidden_size,
                spec.num_heads);
  }
  spec.head_dim = spec.hidden_size / spec.num_heads;
}

void read_llama_family(const ConfigReader& reader, ModelSpec& spec, std::string_view source) {
  spec.hidden_size = reader.positive_int({"hidden_size"});
  spec.num_layers = reader.positive_int({"num_hidden_layers"});
  spec.num_heads = reader.positive_int({"num_attention_heads"});
  spec.num_kv_heads =
      reader.optional_positive_int({"num_key_value_heads"}).value_or(spec.num_heads);
  spec.intermediate_size = reader.positive_int({"intermediate_size"});
  spec.max_position_embeddings = reader.positive_int({"max_position_embeddings"});
  spec.norm_eps = reader.positive_float({"rms_norm_eps"}, 1e-6f);
  spec.rope_theta = reader.positive_float({"rope_theta"}, 10000.0f);
  spec.norm = NormKind::kRmsNorm;
  spec.positions = PositionKind::kRotary;
  spec.activation = Activation::kSiluGated;
  // Llama's attention_bias puts a bias on all four projections; Qwen2 has q/k/v biases only.
  spec.o_bias =
      spec.architecture == Architecture::kLlama && reader.boolean("attention_bias", false);
  spec.qkv_bias = spec.architecture == Architecture::kQwen2 || spec.o_bias;
  const json* activation = reader.find({"hidden_act"});
  if (activation != nullptr && *activation != "silu") {
    throw Error("{}: unsupported hidden_act {} (supported: silu)", source, activation->dump());
  }
  // Features that change the math: refuse them rather than compute something else silently.
  if (const json* scaling = reader.find({"rope_scaling"}); scaling != nullptr) {
    throw Error("{}: rope_scaling {} is not supported", source, scaling->dump());
  }
  if (reader.boolean("use_sliding_window", false)) {
    throw Error("{}: use_sliding_window (sliding-window attention) is not supported", source);
  }
  if (reader.boolean("mlp_bias", false)) {
    throw Error("{}: mlp_bias is not supported", source);
  }
  if (spec.num_heads % spec.num_kv_heads != 0) {
    throw Error("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", source,
                spec.num_heads, spec.num_kv_heads);
  }
  if (spec.hidden_size % spec.num_heads != 0 && reader.find({"head_dim"}) == nullptr) {
    throw Error("{}: hidden_size {} is not a multiple of num_attention_heads {}", source,
                spec.hidden_size, spec.num_heads);
  }
  spec.head_dim =
      reader.optional_positive_int({"head_dim"}).value_or(spec.hidden_size / spec.num_heads);
  if (spec.head_dim % 2 != 0) {
    throw Error("{}: head_dim {} must be even for rotary embeddings", source, spec.head_dim);
  }
}

// Every activation width the forward pass allocates must fit kMaxSize (hence 32 bits).
void check_widths(const ModelSpec& spec, std::string_view source) {
  const std::int64_t qkv =
      (std::int64_t{spec.num_heads} + 2 * std::int64_t{spec.num_kv_heads}) * spec.head_dim;
  if (qkv > kMaxSize || 2 * std::int64_t{spec.intermediate_size} > kMaxSize) {
    throw Error("{}: attention ({} heads x {}) or MLP ({}) widths are too large", source,
                spec.num_heads, spec.head_dim, spec.intermediate_size);
  }
}

}  // namespace

std::string_view architecture_name(Architecture architecture) {
  switch (architecture) {
    case Architecture::kGpt2:
      return "GPT2LMHeadModel";
    case Architecture::kQwen2:
      return "Qwen2ForCausalLM";
    case Architecture::kLlama:
      return "LlamaForCausalLM";
  }
  return "?";
}

ModelSpec parse_model_config(std::string_view json_text, std::string_view source) {
  json config = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) throw Error("{}: not valid JSON", source);
  if (!config.is_object()) throw Error("{}: expected a JSON object", source);

  ModelSpec spec;
  spec.architecture = parse_architecture(config, source);
  spec.architecture_name = std::string(architecture_name(spec.architecture));
  const ConfigReader reader(config, source);
  spec.vocab_size = reader.positive_int({"vocab_size"});
  if (spec.architecture == Architecture::kGpt2) {
    read_gpt2(reader, spec, source);
  } else {
    read_llama_family(reader, spec, source);
  }
  // Defaults as transformers' config classes: GPT2Config ties, Qwen2Config/LlamaConfig do not.
  spec.tie_word_embeddings =
      reader.boolean("tie_word_embeddings", spec.architecture == Architecture::kGpt2);
  spec.eos_token_ids = reader.token_ids("eos_token_id", spec.vocab_size);
  check_widths(spec, source);
  return spec;
}

ModelSpec load_model_spec(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  if (!std::filesystem::is_directory(dir)) {
    throw Error("model directory {} does not exist or is not a directory", dir.string());
  }
  if (!std::filesystem::exists(path)) throw Error("{} not found", path.string());
  ModelSpec spec = parse_model_config(read_text_file(path), path.string());
  // transformers' generate() stops at generation_config.json's eos ids (Qwen2.5-Instruct lists
  // <|im_end|> and <|endoftext|> there); keep config.json's too.
  const auto generation_path = dir / "generation_config.json";
  if (std::filesystem::exists(generation_path)) {
    const json generation =
        json::parse(read_text_file(generation_path), nullptr, /*allow_exceptions=*/false);
    if (!generation.is_object())
      throw Error("{}: expected a JSON object", generation_path.string());
    for (std::int32_t id : ConfigReader(generation, generation_path.string())
                               .token_ids("eos_token_id", spec.vocab_size)) {
      if (std::find(spec.eos_token_ids.begin(), spec.eos_token_ids.end(), id) ==
          spec.eos_token_ids.end()) {
        spec.eos_token_ids.push_back(id);
      }
    }
  }
  return spec;
}

}  // namespace llmserve::model
