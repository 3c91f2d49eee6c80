#include "llmserve/api/generate_api.h"

#include <fmt/format.h>

#include <array>
#include <cassert>
#include <charconv>
#include <iterator>
#include <utility>

#include "llmserve/common/error.h"
#include "request_fields.h"
#include "sampling_fields.h"

namespace llmserve::api {
namespace {

using detail::json;
using detail::reject;

// A request being read: the fields land here before the prompt, which needs the sampling
// parameters validated first (tokenizing is the expensive part).
struct Draft {
  GenerateRequest request;
  const json* prompt = nullptr;
  bool max_tokens_given = false;
};

// The native fields beside the shared sampling ones (sampling_fields.h).
constexpr std::string_view kOwnFields[] = {"prompt", "max_tokens", "logprobs", "stream"};

const std::vector<std::string_view>& field_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> all(std::begin(kOwnFields), std::end(kOwnFields));
    const auto shared = detail::sampling_field_names();
    all.insert(all.end(), shared.begin(), shared.end());
    return all;
  }();
  return names;
}

void read_field(std::string_view name, const json& value, Draft& draft) {
  auto& params = draft.request.params;
  if (name == "prompt") {
    draft.prompt = &value;
  } else if (name == "max_tokens") {
    params.max_tokens = detail::read_int32(value, name);
    draft.max_tokens_given = true;
  } else if (name == "logprobs") {
    params.logprobs = detail::read_int32(value, name);
  } else if (name == "stream") {
    draft.request.stream = detail::read_bool(value, name);
  } else if (!detail::read_sampling_field(name, value, params)) {
    detail::reject_unknown_field(name, field_names());
  }
}

GenerateRequest parse_or_reject(std::string_view body, const tokenizer::Tokenizer& tokenizer,
                                const ApiLimits& limits) {
  const json object = detail::parse_object(body);
  Draft draft;
  for (const auto& [name, value] : object.items()) {
    if (value.is_null()) {  // null = the default, but the name must still be one we know
      if (!detail::is_known_field(name, field_names())) {
        detail::reject_unknown_field(name, field_names());
      }
      continue;
    }
    read_field(name, value, draft);
  }
  if (draft.prompt == nullptr) reject(bad_request("prompt is required", "prompt"));
  // Cheap shape checks of the prompt first; tokenizing waits until everything else is valid.
  if (!draft.prompt->is_string() && !draft.prompt->is_array()) {
    detail::reject_type("prompt", "a string or an array of token ids", *draft.prompt);
  }
  detail::validate_params(draft.request.params, limits.vocab_size);
  draft.request.prompt_ids = detail::prompt_ids(*draft.prompt, "prompt", tokenizer, limits);
  detail::check_context_fits(draft.request.prompt_ids.size(), draft.request.params.max_tokens,
                             draft.max_tokens_given ? "max_tokens" : "", limits);
  return std::move(draft.request);
}

}  // namespace

std::variant<GenerateRequest, ApiError> parse_generate_request(
    std::string_view body, const tokenizer::Tokenizer& tokenizer, const ApiLimits& limits) {
  try {
    return parse_or_reject(body, tokenizer, limits);
  } catch (detail::Rejected& rejected) {
    return std::move(rejected.error);
  }
}

nlohmann::json usage_json(const engine::Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens}, {"completion_tokens", usage.completion_tokens}};
}

nlohmann::json generate_response(std::string text, engine::FinishReason finish_reason,
                                 const engine::Usage& usage) {
  return {{"text", std::move(text)},
          {"finish_reason", engine::to_string(finish_reason)},
          {"usage", usage_json(usage)}};
}

nlohmann::json generate_response(std::span<const GeneratedChoice> choices,
                                 const engine::Usage& usage) {
  assert(!choices.empty());
  auto response = generate_response(choices.front().text, choices.front().finish_reason, usage);
  if (choices.size() > 1) {
    auto& list = response["choices"] = nlohmann::json::array();
    for (std::size_t i = 0; i < choices.size(); ++i) {
      list.push_back({{"index", i},
                      {"text", choices[i].text},
                      {"finish_reason", engine::to_string(choices[i].finish_reason)}});
    }
  }
  return response;
}

nlohmann::json generate_stream_event(std::string_view text_delta,
                                     std::optional<engine::FinishReason> finish_reason,
                                     const engine::Usage* usage_if_final,
                                     std::optional<std::int32_t> choice_index) {
  nlohmann::json event = {{"text", text_delta}, {"finish_reason", nullptr}};
  if (finish_reason) event["finish_reason"] = engine::to_string(*finish_reason);
  if (usage_if_final != nullptr) event["usage"] = usage_json(*usage_if_final);
  if (choice_index) event["index"] = *choice_index;
  return event;
}

}  // namespace llmserve::api
