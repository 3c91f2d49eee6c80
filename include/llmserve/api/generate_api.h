#pragma once
// POST /generate, the native API (DESIGN.md section 6): request bytes -> a validated, tokenized
// GenerateRequest the engine can run as is, and engine outputs -> response JSON. Pure functions,
// callable from any thread; nothing here throws for bad input, every rejection is an ApiError
// returned before any compute.
//
// Request: a JSON object with
//   prompt              string (non-empty) or array of token ids; required
//   max_tokens          integer, default 16; prompt tokens + max_tokens <= max_model_len
//   min_tokens, n, logprobs                               integers
//   temperature (default 1), top_p, min_p,
//   presence_penalty, frequency_penalty, repetition_penalty  numbers
//   top_k               integer; -1 means no limit, as in vLLM (0 here)
//   seed                non-negative integer (up to 2^64 - 1)
//   stop                string or array of strings
//   stop_token_ids      array of token ids
//   logit_bias          object {"<token id>": bias}
//   ignore_eos, skip_special_tokens, stream   booleans
// The schema is strict so that typos are caught: an unknown field, a wrong JSON type (true for a
// number, 1.5 or 1e3 for an integer, an integer beyond 32 bits) is a 400 naming the field. A null
// value means "use the default", as OpenAI clients send it. Ranges are engine::validate's.
//
// Response (non-streaming):
//   {"text", "finish_reason", "usage": {"prompt_tokens", "completion_tokens"}}
// with n > 1, "text" and "finish_reason" are choice 0's (so an n = 1 client still reads it) and
//   "choices": [{"index", "text", "finish_reason"}, ...]   lists every choice.
// Streaming (stream: true): one SSE event per delta, {"text": delta, "finish_reason": null}; the
// choice's last event carries its finish_reason, the request's last event also "usage"; with
// n > 1 each event also has "index". Then sse.h's kSseDone.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "llmserve/api/api_error.h"
#include "llmserve/engine/finish_reason.h"
#include "llmserve/engine/request_output.h"
#include "llmserve/engine/sampling_params.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::api {

// What the served model allows; the server fills it once at start-up.
struct ApiLimits {
  std::int32_t max_model_len = 0;  // prompt tokens + max_tokens must fit in it
  std::int32_t vocab_size = 0;     // the model's logits width: every token id must be below it
  // A prompt string longer than this is a 413 before tokenization; the HTTP body limit bounds
  // the whole request, this bounds the tokenizer's work per request.
  std::size_t max_prompt_bytes = std::size_t{1} << 20;
};

struct GenerateRequest {
  std::vector<std::int32_t> prompt_ids;  // non-empty, each < vocab_size
  engine::SamplingParams params;         // passes engine::validate(params, vocab_size)
  bool stream = false;
};

// Parses, type-checks, validates and tokenizes (Tokenizer::encode, special tokens parsed) one
// /generate body. Errors are 400 with `param` naming the field, or 413 for an over-long prompt.
std::variant<GenerateRequest, ApiError> parse_generate_request(
    std::string_view body, const tokenizer::Tokenizer& tokenizer, const ApiLimits& limits);

struct GeneratedChoice {
  std::string text;
  engine::FinishReason finish_reason = engine::FinishReason::kStop;
};

// The whole response of a finished request with n = 1.
nlohmann::json generate_response(std::string text, engine::FinishReason finish_reason,
                                 const engine::Usage& usage);
// Any n >= 1: choices[i] is choice i (at least one).
nlohmann::json generate_response(std::span<const GeneratedChoice> choices,
                                 const engine::Usage& usage);

// One streamed delta: {"text", "finish_reason"} (null until the choice ends), "usage" when
// `usage_if_final` is given (the request's last event), "index" when `choice_index` is (n > 1).
nlohmann::json generate_stream_event(std::string_view text_delta,
                                     std::optional<engine::FinishReason> finish_reason,
                                     const engine::Usage* usage_if_final,
                                     std::optional<std::int32_t> choice_index = std::nullopt);

// {"prompt_tokens", "completion_tokens"}
nlohmann::json usage_json(const engine::Usage& usage);

}  // namespace llmserve::api
