#include "llmserve/api/tokenize_api.h"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "llmserve/common/error.h"
#include "request_fields.h"

namespace llmserve::api {
namespace {

using detail::json;

constexpr std::array<std::string_view, 2> kTokenizeFields = {"prompt", "add_special_tokens"};
constexpr std::array<std::string_view, 1> kDetokenizeFields = {"tokens"};

TokenizeRequest tokenize_or_reject(std::string_view body, const tokenizer::Tokenizer& tokenizer,
                                   const ApiLimits& limits) {
  const json object = detail::parse_object(body);
  const json* prompt = nullptr;
  for (const auto& [name, value] : object.items()) {
    if (name == "prompt") {
      prompt = &value;
    } else if (name == "add_special_tokens") {
      if (!value.is_null()) detail::read_bool(value, name);  // type-checked, no effect
    } else {
      detail::reject_unknown_field(name, kTokenizeFields);
    }
  }
  if (prompt == nullptr || prompt->is_null()) {
    detail::reject(bad_request("prompt is required", "prompt"));
  }
  if (!prompt->is_string()) detail::reject_type("prompt", "a string", *prompt);
  const auto& text = prompt->get_ref<const std::string&>();
  if (text.empty()) return {};
  // read_prompt_text for the 413; "" was answered above since it is a valid question here.
  detail::read_prompt_text(*prompt, "prompt", limits.max_prompt_bytes);
  try {
    return {tokenizer.encode(text)};
  } catch (const Error& e) {
    detail::reject(bad_request(fmt::format("prompt cannot be tokenized: {}", e.what()), "prompt"));
  }
}

DetokenizeRequest detokenize_or_reject(std::string_view body, std::int32_t vocab_size) {
  const json object = detail::parse_object(body);
  const json* tokens = nullptr;
  for (const auto& [name, value] : object.items()) {
    if (name != "tokens") detail::reject_unknown_field(name, kDetokenizeFields);
    tokens = &value;
  }
  if (tokens == nullptr || tokens->is_null()) {
    detail::reject(bad_request("tokens is required", "tokens"));
  }
  DetokenizeRequest request{detail::read_int32_array(*tokens, "tokens")};
  detail::require_token_ids(request.tokens, "tokens", vocab_size);
  return request;
}

}  // namespace

std::variant<TokenizeRequest, ApiError> parse_tokenize_request(
    std::string_view body, const tokenizer::Tokenizer& tokenizer, const ApiLimits& limits) {
  try {
    return tokenize_or_reject(body, tokenizer, limits);
  } catch (detail::Rejected& rejected) {
    return std::move(rejected.error);
  }
}

std::variant<DetokenizeRequest, ApiError> parse_detokenize_request(std::string_view body,
                                                                   std::int32_t vocab_size) {
  try {
    return detokenize_or_reject(body, vocab_size);
  } catch (detail::Rejected& rejected) {
    return std::move(rejected.error);
  }
}

nlohmann::json tokenize_response(std::span<const std::int32_t> ids, std::int32_t max_model_len) {
  return {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", max_model_len}};
}

nlohmann::json detokenize_response(std::string text) { return {{"prompt", std::move(text)}}; }

}  // namespace llmserve::api
