#pragma once
// POST /tokenize and POST /detokenize (DESIGN.md section 6): tokenizer access over HTTP with the
// same strictness as /generate (unknown fields and wrong JSON types are 400s naming the field).
//   /tokenize    {"prompt": "text", "add_special_tokens": bool (optional)}
//             -> {"tokens": [ids], "count": N, "max_model_len": M}
//   /detokenize  {"tokens": [ids]} -> {"prompt": "text"}
// /tokenize encodes exactly as /generate does (special tokens parsed), so "count" is the number
// the max_model_len check of /generate will see. add_special_tokens is accepted for vLLM clients
// but changes nothing: the GPT-2 and Qwen tokenizers add no BOS/EOS.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "llmserve/api/api_error.h"
#include "llmserve/api/generate_api.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::api {

struct TokenizeRequest {
  std::vector<std::int32_t> prompt_ids;  // the prompt encoded; empty for ""
};

struct DetokenizeRequest {
  std::vector<std::int32_t> tokens;  // each in [0, vocab_size)
};

// An empty prompt is valid here (0 tokens); longer than limits.max_prompt_bytes is a 413.
std::variant<TokenizeRequest, ApiError> parse_tokenize_request(
    std::string_view body, const tokenizer::Tokenizer& tokenizer, const ApiLimits& limits);

std::variant<DetokenizeRequest, ApiError> parse_detokenize_request(std::string_view body,
                                                                   std::int32_t vocab_size);

nlohmann::json tokenize_response(std::span<const std::int32_t> ids, std::int32_t max_model_len);

// `text` is Tokenizer::decode's output (invalid UTF-8 already replaced by U+FFFD).
nlohmann::json detokenize_response(std::string text);

}  // namespace llmserve::api
