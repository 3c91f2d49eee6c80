#include "llmserve/api/openai_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "llmserve/common/error.h"
#include "request_fields.h"
#include "sampling_fields.h"

namespace llmserve::api {
namespace {

using detail::json;
using detail::reject;

// A list of prompts is one engine request each: bounded like n.
constexpr std::size_t kMaxPrompts = engine::kMaxN;

enum class Endpoint { kCompletions, kChat };

constexpr std::string_view kCompletionFields[] = {"model", "prompt", "max_tokens",     "logprobs",
                                                  "echo",  "stream", "stream_options", "user"};
constexpr std::string_view kChatFields[] = {
    "model",  "messages",       "max_tokens", "max_completion_tokens", "logprobs", "top_logprobs",
    "stream", "stream_options", "user"};

std::vector<std::string_view> field_names(Endpoint endpoint) {
  std::vector<std::string_view> names;
  if (endpoint == Endpoint::kCompletions) {
    names.assign(std::begin(kCompletionFields), std::end(kCompletionFields));
  } else {
    names.assign(std::begin(kChatFields), std::end(kChatFields));
  }
  const auto shared = detail::sampling_field_names();
  names.insert(names.end(), shared.begin(), shared.end());
  return names;
}

const std::string& read_string(const json& value, std::string_view name) {
  if (!value.is_string()) detail::reject_type(name, "a string", value);
  return value.get_ref<const std::string&>();
}

// Completion text offsets count characters, as OpenAI's (Python string indices) do.
std::size_t characters(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// What the fields of either endpoint leave before the prompt is built.
struct Draft {
  OpenAiRequest request;
  const json* model = nullptr;
  const json* prompt = nullptr;    // completions
  const json* messages = nullptr;  // chat
  std::string max_tokens_field;    // the field that set max_tokens, empty for the default
  std::optional<std::int32_t> max_completion_tokens;  // chat: wins over the deprecated max_tokens
  bool stream_options = false;
  bool chat_logprobs = false;
  std::optional<std::int32_t> top_logprobs;
};

void read_stream_options(const json& value, Draft& draft) {
  if (!value.is_object()) detail::reject_type("stream_options", "an object", value);
  for (const auto& [key, option] : value.items()) {
    if (key != "include_usage") {
      reject(bad_request(fmt::format("stream_options.{} is not supported; the only option is "
                                     "include_usage",
                                     detail::field_name(key)),
                         "stream_options"));
    }
    if (!option.is_null()) {
      draft.request.include_usage = detail::read_bool(option, "stream_options.include_usage");
    }
  }
  draft.stream_options = true;
}

void read_field(Endpoint endpoint, std::string_view name, const json& value, Draft& draft,
                const std::vector<std::string_view>& names) {
  auto& params = draft.request.params;
  const bool chat = endpoint == Endpoint::kChat;
  if (name == "model") {
    draft.model = &value;
  } else if (name == "prompt" && !chat) {
    draft.prompt = &value;
  } else if (name == "messages" && chat) {
    draft.messages = &value;
  } else if (name == "max_completion_tokens" && chat) {
    draft.max_completion_tokens = detail::read_int32(value, name);
  } else if (name == "max_tokens") {
    params.max_tokens = detail::read_int32(value, name);
    draft.max_tokens_field = std::string(name);
  } else if (name == "logprobs" && !chat) {
    params.logprobs = detail::read_int32(value, name);
    draft.request.logprobs = LogprobsShape::kCompletion;
  } else if (name == "logprobs") {
    draft.chat_logprobs = detail::read_bool(value, name);
  } else if (name == "top_logprobs" && chat) {
    draft.top_logprobs = detail::read_int32(value, name);
  } else if (name == "echo" && !chat) {
    if (detail::read_bool(value, name)) draft.request.echo.emplace_back();  // filled later
  } else if (name == "stream") {
    draft.request.stream = detail::read_bool(value, name);
  } else if (name == "stream_options") {
    read_stream_options(value, draft);
  } else if (name == "user") {
    read_string(value, name);  // accepted for compatibility; not used
  } else if (!detail::read_sampling_field(name, value, params)) {
    detail::reject_unknown_field(name, names);
  }
}

Draft read_fields(Endpoint endpoint, const json& object, const OpenAiContext& context) {
  const auto names = field_names(endpoint);
  Draft draft;
  for (const auto& [name, value] : object.items()) {
    if (value.is_null()) {
      if (!detail::is_known_field(name, names)) detail::reject_unknown_field(name, names);
      continue;
    }
    read_field(endpoint, name, value, draft, names);
  }
  if (draft.model == nullptr) reject(bad_request("model is required", "model"));
  const auto& model = read_string(*draft.model, "model");
  if (std::find(context.model_names.begin(), context.model_names.end(), model) ==
      context.model_names.end()) {
    auto error =
        not_found(fmt::format("The model `{}` does not exist; this server serves {}",
                              detail::field_name(model), fmt::join(context.model_names, ", ")));
    error.param = "model";
    error.code = "model_not_found";
    reject(std::move(error));
  }
  draft.request.model = model;
  if (draft.max_completion_tokens) {
    draft.request.params.max_tokens = *draft.max_completion_tokens;
    draft.max_tokens_field = "max_completion_tokens";
  }
  if (draft.stream_options && !draft.request.stream) {
    reject(bad_request("stream_options is only allowed with stream: true", "stream_options"));
  }
  return draft;
}

// A list of prompts, a list of token ids (one prompt), a list of token-id lists, or a string.
std::vector<std::vector<std::int32_t>> completion_prompts(const json& prompt,
                                                          const tokenizer::Tokenizer& tokenizer,
                                                          const ApiLimits& limits) {
  std::vector<std::vector<std::int32_t>> prompts;
  if (!prompt.is_array() || (!prompt.empty() && prompt.front().is_number())) {
    prompts.push_back(detail::prompt_ids(prompt, "prompt", tokenizer, limits));
    return prompts;
  }
  if (prompt.empty()) reject(bad_request("prompt must not be empty", "prompt"));
  if (prompt.size() > kMaxPrompts) {
    reject(bad_request(
        fmt::format("prompt lists {} prompts; at most {} per request", prompt.size(), kMaxPrompts),
        "prompt"));
  }
  const bool strings = prompt.front().is_string();
  for (const auto& element : prompt) {
    if (strings ? !element.is_string() : !element.is_array()) {
      detail::reject_type("prompt",
                          "a string, a list of strings, a list of token ids or a list of "
                          "token-id lists",
                          element);
    }
    prompts.push_back(detail::prompt_ids(element, "prompt", tokenizer, limits));
  }
  return prompts;
}

OpenAiRequest parse_completion(std::string_view body, const tokenizer::Tokenizer& tokenizer,
                               const OpenAiContext& context) {
  const json object = detail::parse_object(body);  // the draft points into it
  Draft draft = read_fields(Endpoint::kCompletions, object, context);
  auto& request = draft.request;
  if (draft.prompt == nullptr) reject(bad_request("prompt is required", "prompt"));
  if (!request.echo.empty() && request.logprobs != LogprobsShape::kNone) {
    // OpenAI would give the prompt tokens' logprobs too, which the engine does not compute.
    reject(bad_request("echo together with logprobs is not supported", "echo"));
  }
  detail::validate_params(request.params, context.limits.vocab_size);
  request.prompts = completion_prompts(*draft.prompt, tokenizer, context.limits);
  const auto choices = request.prompts.size() * static_cast<std::size_t>(request.params.n);
  if (choices > kMaxPrompts) {
    reject(bad_request(fmt::format("{} prompts with n = {} make {} choices; at most {} per request",
                                   request.prompts.size(), request.params.n, choices, kMaxPrompts),
                       "n"));
  }
  for (const auto& prompt : request.prompts) {
    detail::check_context_fits(prompt.size(), request.params.max_tokens, draft.max_tokens_field,
                               context.limits);
  }
  if (!request.echo.empty()) {
    request.echo.clear();
    for (const auto& prompt : request.prompts) {
      request.echo.push_back(tokenizer.decode(prompt));  // the prompt as written, specials kept
    }
  }
  return std::move(request);
}

// content: a string, or a list of {"type": "text", "text"} parts (joined with nothing between,
// as OpenAI does for text parts); null only for an assistant turn.
std::string message_content(const json& content, std::string_view role, std::size_t at) {
  const std::string name = fmt::format("messages[{}].content", at);
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null() && role == "assistant") return {};
  if (!content.is_array()) detail::reject_type(name, "a string or a list of text parts", content);
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
        !part.contains("text") || !part["text"].is_string()) {
      reject(bad_request(fmt::format("{}: only {{\"type\": \"text\", \"text\": ...}} parts are "
                                     "supported",
                                     name),
                         name));
    }
    text += part["text"].get<std::string>();
  }
  return text;
}

std::vector<tokenizer::ChatMessage> chat_messages(const json& messages) {
  if (!messages.is_array() || messages.empty()) {
    detail::reject_type("messages", "a non-empty list of messages", messages);
  }
  std::vector<tokenizer::ChatMessage> out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& message = messages[i];
    const std::string at = fmt::format("messages[{}]", i);
    if (!message.is_object()) detail::reject_type(at, "an object", message);
    if (!message.contains("role")) reject(bad_request(at + ".role is required", at + ".role"));
    std::string role = read_string(message["role"], at + ".role");
    if (role == "developer") role = "system";  // OpenAI's newer name for the system role
    if (role != "system" && role != "user" && role != "assistant") {
      reject(bad_request(fmt::format("{}.role must be system, developer, user or assistant, got "
                                     "'{}' (tools are not supported)",
                                     at, detail::field_name(role)),
                         at + ".role"));
    }
    for (const auto& [key, value] : message.items()) {
      if (key != "role" && key != "content" && key != "name") {
        const std::string field = at + "." + detail::field_name(key);
        reject(bad_request(
            fmt::format("{} is not supported; a message has role, content and name", field),
            field));
      }
    }
    if (message.contains("name") && !message["name"].is_null()) {
      read_string(message["name"], at + ".name");
    }
    const json content = message.contains("content") ? message["content"] : json();
    out.push_back({role, message_content(content, role, i)});
  }
  return out;
}

OpenAiRequest parse_chat(std::string_view body, const tokenizer::Tokenizer& tokenizer,
                         const OpenAiContext& context) {
  const json object = detail::parse_object(body);  // the draft points into it
  Draft draft = read_fields(Endpoint::kChat, object, context);
  auto& request = draft.request;
  if (draft.messages == nullptr) reject(bad_request("messages is required", "messages"));
  if (draft.top_logprobs && !draft.chat_logprobs) {
    reject(bad_request("top_logprobs needs logprobs: true", "top_logprobs"));
  }
  if (draft.chat_logprobs) {
    request.params.logprobs = draft.top_logprobs.value_or(0);
    request.logprobs = LogprobsShape::kChat;
  }
  const auto messages = chat_messages(*draft.messages);
  if (context.chat_template == nullptr) {
    reject(bad_request(fmt::format("this model has no usable chat template: {}; use "
                                   "/v1/completions with a prompt instead",
                                   context.chat_template_problem),
                       "messages"));
  }
  const std::string_view max_tokens_field =
      draft.max_tokens_field.empty() ? std::string_view("max_tokens") : draft.max_tokens_field;
  const detail::FieldRename renames[] = {{"logprobs", "top_logprobs"},
                                         {"max_tokens", max_tokens_field}};
  detail::validate_params(request.params, context.limits.vocab_size, renames);
  std::string text;
  try {
    text = context.chat_template->render(messages, /*add_generation_prompt=*/true);
  } catch (const Error& e) {
    reject(bad_request(fmt::format("messages cannot be rendered: {}", e.what()), "messages"));
  }
  request.prompts.push_back(
      detail::prompt_ids(json(std::move(text)), "messages", tokenizer, context.limits));
  const auto prompt_tokens = static_cast<std::int32_t>(request.prompts.front().size());
  if (draft.max_tokens_field.empty() && prompt_tokens < context.limits.max_model_len) {
    request.params.max_tokens = context.limits.max_model_len - prompt_tokens;  // all that is left
  }
  detail::check_context_fits(request.prompts.front().size(), request.params.max_tokens,
                             draft.max_tokens_field, context.limits, "messages");
  return std::move(request);
}

template <typename Parse>
std::variant<OpenAiRequest, ApiError> parse_or_error(Parse parse) {
  try {
    return parse();
  } catch (detail::Rejected& rejected) {
    return std::move(rejected.error);
  }
}

}  // namespace

std::variant<OpenAiRequest, ApiError> parse_completion_request(
    std::string_view body, const tokenizer::Tokenizer& tokenizer, const OpenAiContext& context) {
  return parse_or_error([&] { return parse_completion(body, tokenizer, context); });
}

std::variant<OpenAiRequest, ApiError> parse_chat_request(std::string_view body,
                                                         const tokenizer::Tokenizer& tokenizer,
                                                         const OpenAiContext& context) {
  return parse_or_error([&] { return parse_chat(body, tokenizer, context); });
}

nlohmann::json models_list(std::span<const std::string> names, std::int64_t created,
                           std::int32_t max_model_len) {
  auto data = nlohmann::json::array();
  for (const auto& name : names) {
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", created},
                    {"owned_by", "llmserve"},
                    {"max_model_len", max_model_len}});
  }
  return {{"object", "list"}, {"data", std::move(data)}};
}

nlohmann::json openai_usage(const engine::Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

OpenAiFormatter::OpenAiFormatter(const OpenAiRequest& request, ResponseHeader header,
                                 const tokenizer::Tokenizer& tokenizer, bool chat,
                                 std::int32_t num_choices)
    : tokenizer_(tokenizer),
      header_(std::move(header)),
      chat_(chat),
      include_usage_(request.include_usage),
      logprobs_(request.logprobs),
      echo_(request.echo),
      n_(request.params.n),
      num_choices_(num_choices),
      offsets_(static_cast<std::size_t>(num_choices), 0) {
  // Completion text offsets count the echoed prompt.
  for (std::int32_t i = 0; i < num_choices && !echo_.empty(); ++i) {
    offsets_[static_cast<std::size_t>(i)] = characters(echo_[static_cast<std::size_t>(i / n_)]);
  }
}

nlohmann::json OpenAiFormatter::chunk(nlohmann::json choice) const {
  nlohmann::json out = {{"id", header_.id},
                        {"object", chat_ ? "chat.completion.chunk" : "text_completion"},
                        {"created", header_.created},
                        {"model", header_.model},
                        {"choices", nlohmann::json::array({std::move(choice)})}};
  if (include_usage_) out["usage"] = nullptr;
  return out;
}

nlohmann::json OpenAiFormatter::logprobs_json(std::span<const engine::TokenLogprobs> logprobs,
                                              std::size_t& text_offset) const {
  const auto text = [&](std::int32_t id) {
    const std::int32_t ids[] = {id};
    return tokenizer_.decode(ids);
  };
  if (logprobs_ == LogprobsShape::kChat) {
    const auto entry = [&](std::int32_t id, float logprob) {
      std::vector<int> bytes;
      for (const unsigned char byte : tokenizer_.token_bytes(id)) bytes.push_back(byte);
      return nlohmann::json{{"token", text(id)}, {"logprob", logprob}, {"bytes", bytes}};
    };
    auto content = nlohmann::json::array();
    for (const auto& token : logprobs) {
      auto item = entry(token.token, token.logprob);
      auto& top = item["top_logprobs"] = nlohmann::json::array();
      for (const auto& alternative : token.top) {
        top.push_back(entry(alternative.id, alternative.logprob));
      }
      content.push_back(std::move(item));
    }
    return {{"content", std::move(content)}};
  }
  nlohmann::json out = {{"tokens", nlohmann::json::array()},
                        {"token_logprobs", nlohmann::json::array()},
                        {"top_logprobs", nlohmann::json::array()},
                        {"text_offset", nlohmann::json::array()}};
  for (const auto& token : logprobs) {
    const std::string token_text = text(token.token);
    out["tokens"].push_back(token_text);
    out["token_logprobs"].push_back(token.logprob);
    auto top = nlohmann::json::object();
    for (const auto& alternative : token.top) top[text(alternative.id)] = alternative.logprob;
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(text_offset);
    text_offset += characters(token_text);
  }
  return out;
}

std::vector<nlohmann::json> OpenAiFormatter::opening_chunks() {
  std::vector<nlohmann::json> chunks;
  for (std::int32_t i = 0; i < num_choices_; ++i) {
    if (chat_) {
      chunks.push_back(chunk({{"index", i},
                              {"delta", {{"role", "assistant"}, {"content", ""}}},
                              {"logprobs", nullptr},
                              {"finish_reason", nullptr}}));
    } else if (!echo_.empty()) {
      chunks.push_back(chunk({{"index", i},
                              {"text", echo_[static_cast<std::size_t>(i / n_)]},
                              {"logprobs", nullptr},
                              {"finish_reason", nullptr}}));
    }
  }
  return chunks;
}

nlohmann::json OpenAiFormatter::delta_chunk(const engine::ChoiceDelta& delta, std::int32_t index) {
  // Text held back (a possible stop string, an unfinished character) leaves a delta empty.
  if (delta.text.empty() && !delta.finish_reason && delta.logprobs.empty()) return nullptr;
  nlohmann::json choice = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  if (chat_) {
    choice["delta"] =
        delta.text.empty() ? nlohmann::json::object() : nlohmann::json{{"content", delta.text}};
  } else {
    choice["text"] = delta.text;
  }
  if (logprobs_ != LogprobsShape::kNone) {
    choice["logprobs"] = logprobs_json(delta.logprobs, offsets_[static_cast<std::size_t>(index)]);
  }
  if (delta.finish_reason) choice["finish_reason"] = engine::to_string(*delta.finish_reason);
  return chunk(std::move(choice));
}

std::optional<nlohmann::json> OpenAiFormatter::usage_chunk(const engine::Usage& usage) const {
  if (!include_usage_) return std::nullopt;
  auto out = chunk(nullptr);
  out["choices"] = nlohmann::json::array();
  out["usage"] = openai_usage(usage);
  return out;
}

nlohmann::json OpenAiFormatter::response(std::span<const CompletedChoice> choices,
                                         const engine::Usage& usage) const {
  auto list = nlohmann::json::array();
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const auto& c = choices[i];
    nlohmann::json choice = {
        {"index", i}, {"logprobs", nullptr}, {"finish_reason", engine::to_string(c.finish_reason)}};
    std::size_t offset = echo_.empty() ? 0 : characters(echo_[i / static_cast<std::size_t>(n_)]);
    if (logprobs_ != LogprobsShape::kNone) choice["logprobs"] = logprobs_json(c.logprobs, offset);
    if (chat_) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    } else {
      choice["text"] = echo_.empty() ? c.text : echo_[i / static_cast<std::size_t>(n_)] + c.text;
    }
    list.push_back(std::move(choice));
  }
  return {{"id", header_.id},           {"object", chat_ ? "chat.completion" : "text_completion"},
          {"created", header_.created}, {"model", header_.model},
          {"choices", std::move(list)}, {"usage", openai_usage(usage)}};
}

}  // namespace llmserve::api
