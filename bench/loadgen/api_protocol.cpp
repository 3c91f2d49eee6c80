#include "api_protocol.h"

#include <nlohmann/json.hpp>

namespace llmserve::loadgen {
namespace {

void read_usage(const nlohmann::json& event, StreamEvent& out) {
  const auto usage = event.find("usage");
  if (usage == event.end() || !usage->is_object()) return;
  const auto count = [&](const char* key) -> std::optional<std::int32_t> {
    const auto it = usage->find(key);
    if (it == usage->end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int32_t>();
  };
  out.prompt_tokens = count("prompt_tokens");
  out.completion_tokens = count("completion_tokens");
}

}  // namespace

std::string request_path(Api api) { return api == Api::kNative ? "/generate" : "/v1/completions"; }

std::string request_body(Api api, const PromptRequest& request) {
  nlohmann::json body = {{"prompt", request.prompt_ids},
                         {"max_tokens", request.max_tokens},
                         {"temperature", request.temperature},
                         {"ignore_eos", true},
                         {"stream", true}};
  if (api == Api::kOpenAi) {
    body["model"] = request.model;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body.dump();
}

StreamEvent read_event(Api api, std::string_view data) {
  StreamEvent out;
  if (data == "[DONE]") {
    out.done = true;
    return out;
  }
  const auto event = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object()) {
    out.error = "a stream event that is not a JSON object";
    return out;
  }
  if (const auto error = event.find("error"); error != event.end()) {
    const auto message = error->is_object() ? error->find("message") : error->end();
    out.error = message != error->end() && message->is_string() ? message->get<std::string>()
                                                                : error->dump();
    return out;
  }
  read_usage(event, out);
  if (api == Api::kNative) {
    out.carries_output = event.contains("text");
  } else {
    const auto choices = event.find("choices");
    out.carries_output = choices != event.end() && choices->is_array() && !choices->empty() &&
                         choices->front().contains("text");
  }
  return out;
}

}  // namespace llmserve::loadgen
