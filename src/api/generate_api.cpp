#include "llmserve/api/generate_api.h"

#include <fmt/format.h>

#include <array>
#include <cassert>
#include <charconv>
#include <iterator>
#include <utility>

#include "llmserve/common/error.h"
#include "request_fields.h"

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

void read_top_k(const json& value, std::string_view name, Draft& draft) {
  const auto top_k = detail::read_int32(value, name);
  // vLLM spells "no limit" -1; SamplingParams spells it 0. Other negatives fail validation.
  draft.request.params.top_k = top_k == -1 ? 0 : top_k;
}

void read_stop(const json& value, std::string_view name, Draft& draft) {
  auto& stop = draft.request.params.stop;
  stop.clear();
  if (value.is_string()) {
    stop.push_back(value.get<std::string>());
    return;
  }
  if (!value.is_array()) detail::reject_type(name, "a string or an array of strings", value);
  for (const auto& element : value) {
    if (!element.is_string()) detail::reject_type(name, "a string or an array of strings", element);
    stop.push_back(element.get<std::string>());
  }
}

// OpenAI's shape: {"50256": -100}. Keys are decimal token ids; ranges are checked by validate.
void read_logit_bias(const json& value, std::string_view name, Draft& draft) {
  if (!value.is_object()) detail::reject_type(name, "an object of token id -> bias", value);
  auto& logit_bias = draft.request.params.logit_bias;
  logit_bias.clear();
  for (const auto& [key, bias] : value.items()) {
    std::int32_t id = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size()) {
      reject(bad_request(
          fmt::format("{} keys must be token ids, got '{}'", name, detail::field_name(key)),
          std::string(name)));
    }
    logit_bias.emplace_back(id, detail::read_float(bias, name));
  }
}

using FieldReader = void (*)(const json& value, std::string_view name, Draft& draft);

struct Field {
  std::string_view name;
  FieldReader read;
};

// The native schema, one row per accepted field.
constexpr Field kFields[] = {
    {"prompt", [](const json& v, std::string_view, Draft& d) { d.prompt = &v; }},
    {"max_tokens",
     [](const json& v, std::string_view name, Draft& d) {
       d.request.params.max_tokens = detail::read_int32(v, name);
       d.max_tokens_given = true;
     }},
    {"min_tokens", [](const json& v, std::string_view name,
                      Draft& d) { d.request.params.min_tokens = detail::read_int32(v, name); }},
    {"n", [](const json& v, std::string_view name,
             Draft& d) { d.request.params.n = detail::read_int32(v, name); }},
    {"temperature", [](const json& v, std::string_view name,
                       Draft& d) { d.request.params.temperature = detail::read_float(v, name); }},
    {"top_p", [](const json& v, std::string_view name,
                 Draft& d) { d.request.params.top_p = detail::read_float(v, name); }},
    {"top_k", read_top_k},
    {"min_p", [](const json& v, std::string_view name,
                 Draft& d) { d.request.params.min_p = detail::read_float(v, name); }},
    {"presence_penalty",
     [](const json& v, std::string_view name, Draft& d) {
       d.request.params.presence_penalty = detail::read_float(v, name);
     }},
    {"frequency_penalty",
     [](const json& v, std::string_view name, Draft& d) {
       d.request.params.frequency_penalty = detail::read_float(v, name);
     }},
    {"repetition_penalty",
     [](const json& v, std::string_view name, Draft& d) {
       d.request.params.repetition_penalty = detail::read_float(v, name);
     }},
    {"seed", [](const json& v, std::string_view name,
                Draft& d) { d.request.params.seed = detail::read_uint64(v, name); }},
    {"logprobs", [](const json& v, std::string_view name,
                    Draft& d) { d.request.params.logprobs = detail::read_int32(v, name); }},
    {"stop", read_stop},
    {"stop_token_ids",
     [](const json& v, std::string_view name, Draft& d) {
       d.request.params.stop_token_ids = detail::read_int32_array(v, name);
     }},
    {"logit_bias", read_logit_bias},
    {"ignore_eos", [](const json& v, std::string_view name,
                      Draft& d) { d.request.params.ignore_eos = detail::read_bool(v, name); }},
    {"skip_special_tokens",
     [](const json& v, std::string_view name, Draft& d) {
       d.request.params.skip_special_tokens = detail::read_bool(v, name);
     }},
    {"stream", [](const json& v, std::string_view name,
                  Draft& d) { d.request.stream = detail::read_bool(v, name); }},
};

const Field* find_field(std::string_view name) {
  for (const auto& field : kFields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

constexpr auto kFieldNames = [] {
  std::array<std::string_view, std::size(kFields)> names{};
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = kFields[i].name;
  return names;
}();

std::vector<std::int32_t> prompt_ids(const json& prompt, const tokenizer::Tokenizer& tokenizer,
                                     const ApiLimits& limits) {
  if (prompt.is_array()) {
    auto ids = detail::read_int32_array(prompt, "prompt");
    if (ids.empty()) reject(bad_request("prompt must not be empty", "prompt"));
    return ids;
  }
  if (!prompt.is_string()) {
    detail::reject_type("prompt", "a string or an array of token ids", prompt);
  }
  const auto& text = detail::read_prompt_text(prompt, "prompt", limits.max_prompt_bytes);
  try {
    return tokenizer.encode(text);
  } catch (const Error& e) {
    reject(bad_request(fmt::format("prompt cannot be tokenized: {}", e.what()), "prompt"));
  }
}

void check_context_fits(const Draft& draft, const ApiLimits& limits) {
  const auto prompt_tokens = static_cast<std::int64_t>(draft.request.prompt_ids.size());
  const std::int64_t max_tokens = draft.request.params.max_tokens;
  // At least one output token must fit, so a prompt of max_model_len tokens is already too long.
  if (prompt_tokens >= limits.max_model_len) {
    reject(bad_request(fmt::format("prompt is {} tokens; max_model_len is {}, so the prompt must "
                                   "be at most {} tokens to leave room for output",
                                   prompt_tokens, limits.max_model_len, limits.max_model_len - 1),
                       "prompt"));
  }
  if (prompt_tokens + max_tokens > limits.max_model_len) {
    reject(bad_request(
        fmt::format("prompt ({} tokens) + max_tokens ({}{}) = {} exceeds max_model_len {}; "
                    "max_tokens can be at most {} for this prompt",
                    prompt_tokens, max_tokens, draft.max_tokens_given ? "" : ", the default",
                    prompt_tokens + max_tokens, limits.max_model_len,
                    limits.max_model_len - prompt_tokens),
        "max_tokens"));
  }
}

GenerateRequest parse_or_reject(std::string_view body, const tokenizer::Tokenizer& tokenizer,
                                const ApiLimits& limits) {
  const json object = detail::parse_object(body);
  Draft draft;
  for (const auto& [name, value] : object.items()) {
    const Field* field = find_field(name);
    if (field == nullptr) detail::reject_unknown_field(name, kFieldNames);
    if (value.is_null()) continue;  // null = the default
    field->read(value, field->name, draft);
  }
  if (draft.prompt == nullptr) reject(bad_request("prompt is required", "prompt"));
  // Cheap shape checks of the prompt first; tokenizing waits until everything else is valid.
  if (!draft.prompt->is_string() && !draft.prompt->is_array()) {
    detail::reject_type("prompt", "a string or an array of token ids", *draft.prompt);
  }
  try {
    engine::validate(draft.request.params, limits.vocab_size);
  } catch (const engine::InvalidParameter& e) {
    reject(bad_request(e.what(), e.param()));
  }
  draft.request.prompt_ids = prompt_ids(*draft.prompt, tokenizer, limits);
  detail::require_token_ids(draft.request.prompt_ids, "prompt", limits.vocab_size);
  check_context_fits(draft, limits);
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
