#pragma once
// The two request dialects the load generator speaks: llmserve's native POST /generate and the
// OpenAI POST /v1/completions any OpenAI-compatible server (llmserve, vLLM, TGI, llama.cpp's
// server) offers. Prompts are token ids, so that a prompt has exactly the asked length on every
// server without a tokenizer here; outputs have a fixed length (ignore_eos), always streamed.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmserve::loadgen {

enum class Api { kNative, kOpenAi };

struct PromptRequest {
  std::vector<std::int32_t> prompt_ids;
  std::int32_t max_tokens = 0;
  double temperature = 0.0;
  std::string model;  // OpenAI's required "model"; unused by the native API
};

// The path (appended to the base URL's path) and the JSON body.
std::string request_path(Api api);
std::string request_body(Api api, const PromptRequest& request);

// What one stream event's data tells the client.
struct StreamEvent {
  bool done = false;            // "[DONE]"
  bool carries_output = false;  // a text delta (possibly empty: held-back text still was a step)
  std::optional<std::int32_t> prompt_tokens, completion_tokens;  // from "usage" when present
  std::optional<std::string> error;  // an error object or unparsable JSON
};

StreamEvent read_event(Api api, std::string_view data);

}  // namespace llmserve::loadgen
