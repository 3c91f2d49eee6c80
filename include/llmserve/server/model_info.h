#pragma once
// What the server tells clients about the model it serves (/models, the startup line).
#include <cstdint>
#include <string>
#include <vector>

namespace llmserve::server {

struct ModelInfo {
  std::vector<std::string> names;  // served names; the first is canonical
  std::int32_t max_model_len = 0;
  std::int32_t vocab_size = 0;
  std::string dtype;
  std::string backend;
  std::int32_t kv_blocks = 0;
  std::int32_t block_size = 0;
};

}  // namespace llmserve::server
