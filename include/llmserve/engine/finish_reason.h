#pragma once
// Why a sequence stopped. The strings are the wire names (native API and OpenAI finish_reason).
#include <string_view>

namespace llmserve::engine {

enum class FinishReason {
  kStop,     // EOS, a stop token id or a stop string
  kLength,   // max_tokens reached
  kAbort,    // the client went away or asked to stop
  kTimeout,  // the request ran past its deadline
  kError,    // a failure inside a step; the request carries the message
};

std::string_view to_string(FinishReason reason);

}  // namespace llmserve::engine
