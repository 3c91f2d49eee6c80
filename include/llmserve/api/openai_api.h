#pragma once
// The OpenAI-compatible API (DESIGN.md section 6): /v1/completions and /v1/chat/completions
// bodies -> validated, tokenized OpenAiRequests; finished choices and deltas -> OpenAI's
// response and stream-chunk objects. Pure functions like generate_api.h, with the same strict
// schema: an unknown field, a wrong type or a value out of range is a 400 naming the field; null
// means the default. An unknown model is a 404 with code "model_not_found".
//
// /v1/completions: model, prompt (a string, a list of strings, a list of token ids or a list of
// token-id lists: one engine request per prompt), max_tokens (default 16), logprobs (integer:
// that many alternatives per token), echo, stream, stream_options.include_usage, user, and the
// sampling fields of sampling_fields.h.
// /v1/chat/completions: model, messages (role system / developer / user / assistant; content a
// string or a list of {"type": "text", "text"} parts), max_completion_tokens or max_tokens
// (default: all the context left), logprobs (boolean) with top_logprobs, stream, stream_options,
// user, and the same sampling fields. The prompt is the model's chat template
// (tokenizer/chat_template.h) with the generation prompt; a model without a usable template gets
// a 400 saying why.
//
// Choices are numbered across prompts (prompt p's choice c is p * n + c), as OpenAI does.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "llmserve/api/api_error.h"
#include "llmserve/api/generate_api.h"
#include "llmserve/engine/request_output.h"
#include "llmserve/engine/sampling_params.h"
#include "llmserve/tokenizer/chat_template.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::api {

// What the server serves, for the OpenAI routes.
struct OpenAiContext {
  ApiLimits limits;
  std::span<const std::string> model_names;  // --served-model-name; requests must name one
  const tokenizer::ChatTemplate* chat_template = nullptr;  // null: chat is refused with...
  std::string chat_template_problem;                       // ...this reason
};

enum class LogprobsShape { kNone, kCompletion, kChat };

struct OpenAiRequest {
  std::string model;                               // one of the served names, as requested
  std::vector<std::vector<std::int32_t>> prompts;  // one engine request each, all non-empty
  engine::SamplingParams params;                   // passes engine::validate
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage: a final chunk with usage
  std::vector<std::string> echo;  // completions with echo: each prompt's text, else empty
  LogprobsShape logprobs = LogprobsShape::kNone;
};

std::variant<OpenAiRequest, ApiError> parse_completion_request(
    std::string_view body, const tokenizer::Tokenizer& tokenizer, const OpenAiContext& context);
std::variant<OpenAiRequest, ApiError> parse_chat_request(std::string_view body,
                                                         const tokenizer::Tokenizer& tokenizer,
                                                         const OpenAiContext& context);

// One choice at its end.
struct CompletedChoice {
  std::string text;
  std::vector<std::int32_t> token_ids;
  std::vector<engine::TokenLogprobs> logprobs;  // when asked, parallel to token_ids
  engine::FinishReason finish_reason = engine::FinishReason::kStop;
};

// The fields every response object and chunk of one call shares.
struct ResponseHeader {
  std::string id;            // "cmpl-..." / "chatcmpl-..."
  std::int64_t created = 0;  // Unix seconds
  std::string model;
};

// GET /v1/models: {"object": "list", "data": [{"id", "object": "model", "created", "owned_by",
// "max_model_len"}]}.
nlohmann::json models_list(std::span<const std::string> names, std::int64_t created,
                           std::int32_t max_model_len);

// {"prompt_tokens", "completion_tokens", "total_tokens"}
nlohmann::json openai_usage(const engine::Usage& usage);

// Renders outputs of one call in the completions or chat shape. Logprob token strings come from
// the tokenizer; completion text offsets run on per choice across chunks, hence the state.
class OpenAiFormatter {
 public:
  OpenAiFormatter(const OpenAiRequest& request, ResponseHeader header,
                  const tokenizer::Tokenizer& tokenizer, bool chat, std::int32_t num_choices);

  // Streaming: what opens the stream (chat: each choice's role; completions with echo: each
  // choice's prompt), one chunk per delta, and the usage chunk when include_usage is set.
  std::vector<nlohmann::json> opening_chunks();
  nlohmann::json delta_chunk(const engine::ChoiceDelta& delta, std::int32_t index);
  std::optional<nlohmann::json> usage_chunk(const engine::Usage& usage) const;
  // Not streaming: the whole response.
  nlohmann::json response(std::span<const CompletedChoice> choices,
                          const engine::Usage& usage) const;

 private:
  nlohmann::json chunk(nlohmann::json choice) const;
  nlohmann::json logprobs_json(std::span<const engine::TokenLogprobs> logprobs,
                               std::size_t& text_offset) const;

  const tokenizer::Tokenizer& tokenizer_;
  ResponseHeader header_;
  bool chat_;
  bool include_usage_;
  LogprobsShape logprobs_;
  std::vector<std::string> echo_;  // per prompt
  std::int32_t n_;
  std::int32_t num_choices_;
  std::vector<std::size_t> offsets_;  // per choice: text length streamed so far
};

}  // namespace llmserve::api
