#pragma once
// What the server knows and tells clients about the model it serves (/models, /v1/models, the
// startup line), and how it turns chat messages into its prompt.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmserve/tokenizer/chat_template.h"

namespace llmserve::server {

struct ModelInfo {
  std::vector<std::string> names;  // served names; the first is canonical
  std::int32_t max_model_len = 0;
  std::int32_t vocab_size = 0;
  std::string dtype;
  std::string backend;
  std::int32_t kv_blocks = 0;
  std::int32_t block_size = 0;
  std::int64_t created = 0;  // Unix seconds when loaded (OpenAI's model "created")
  std::optional<tokenizer::ChatTemplate> chat_template;  // absent: chat requests get a 400...
  std::string chat_template_problem;                     // ...saying this
};

}  // namespace llmserve::server
