#pragma once
// Server-sent events framing for streamed responses: each event is one "data:" line holding
// compact JSON (compact JSON has no newline, so one line always suffices), then a blank line.
// The stream ends with kSseDone, as OpenAI's does.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace llmserve::api {

inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// "data: <compact JSON>\n\n". Never throws on text from a model: invalid UTF-8 (a token cut
// mid-character) is written as U+FFFD instead of failing the stream.
std::string sse_event(const nlohmann::json& data);

}  // namespace llmserve::api
