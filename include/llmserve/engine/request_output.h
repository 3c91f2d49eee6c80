#pragma once
// What a request produces, as deltas: each output carries only what is new since the consumer
// last took one. The engine merges unread deltas into one (coalescing), so a slow consumer gets
// fewer, larger deltas and never holds the engine up.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmserve/engine/finish_reason.h"
#include "llmserve/engine/sampler.h"
#include "llmserve/engine/stop_checker.h"

namespace llmserve::engine {

using Clock = std::chrono::steady_clock;

struct TokenLogprobs {
  std::int32_t token = 0;
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;  // most likely first
};

// New output of one choice (index in [0, n)).
struct ChoiceDelta {
  std::int32_t index = 0;
  std::vector<std::int32_t> token_ids;
  std::string text;
  std::vector<TokenLogprobs> logprobs;         // parallel to token_ids when logprobs were asked
  std::vector<Clock::time_point> token_times;  // when each token was sampled
  std::optional<FinishReason> finish_reason;   // set in the choice's last delta
  StopReason stop_reason;                      // what stopped it, for kStop

  // Appends `later` (same index) to this delta.
  void merge(ChoiceDelta&& later);
};

struct Usage {
  std::int32_t prompt_tokens = 0;
  std::int32_t completion_tokens = 0;     // all choices, so far
  std::int32_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

struct RequestTimes {
  Clock::time_point arrival;
  std::optional<Clock::time_point> first_scheduled;  // queue time ends here
  std::optional<Clock::time_point> first_token;
  std::optional<Clock::time_point> finished;
};

struct RequestOutput {
  std::vector<ChoiceDelta> choices;  // choices with something new, by index
  bool finished = false;             // the last output: every choice has a finish_reason
  std::optional<std::string> error;  // why it failed (finish_reason kError)
  Usage usage;
  RequestTimes times;

  // Folds `later` into this output: deltas of the same choice concatenate, the rest replaces.
  void merge(RequestOutput&& later);
};

}  // namespace llmserve::engine
