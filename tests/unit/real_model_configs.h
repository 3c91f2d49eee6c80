#pragma once
// The config.json files of two real models, as Hugging Face publishes them, for tests whose numbers
// are checked by hand against the real models (kv-plan): no weights are needed, only the
// geometry. Shared by the unit tests and the CLI test.
#include <filesystem>
#include <fstream>
#include <string_view>

namespace llmserve::testing {

// openai-community/gpt2 (GPT-2 small, 124M): 12 layers, 12 heads of 64, 1024 positions, tied.
constexpr std::string_view kGpt2SmallConfig = R"json({
  "activation_function": "gelu_new",
  "architectures": ["GPT2LMHeadModel"],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_layer": 12,
  "n_positions": 1024,
  "resid_pdrop": 0.1,
  "summary_activation": null,
  "summary_first_dropout": 0.1,
  "summary_proj_to_labels": true,
  "summary_type": "cls_index",
  "summary_use_proj": true,
  "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
  "vocab_size": 50257
})json";

// Qwen/Qwen2.5-1.5B-Instruct: 28 layers, 12 query heads over 2 KV heads of 128, SiLU MLP of 8960,
// q/k/v biases, tied head, 32768 positions (the base model's config says 131072).
constexpr std::string_view kQwen25_1_5BConfig = R"json({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 1536,
  "initializer_range": 0.02,
  "intermediate_size": 8960,
  "max_position_embeddings": 32768,
  "max_window_layers": 21,
  "model_type": "qwen2",
  "num_attention_heads": 12,
  "num_hidden_layers": 28,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})json";

// Writes `config_json` as DIR/config.json: a model directory that kv-plan and load_model_spec
// accept.
inline void write_model_config(const std::filesystem::path& dir, std::string_view config_json) {
  std::ofstream(dir / "config.json") << config_json;
}

}  // namespace llmserve::testing
