#include "llmserve/engine/sampling_params.h"

#include <cmath>
#include <string_view>

namespace llmserve::engine {
namespace {

void require_in(std::string_view name, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value < lo || value > hi) {
    throw InvalidParameter(std::string(name), "{} must be in [{}, {}], got {}", name, lo, hi,
                           value);
  }
}

void require_finite_in(std::string_view name, float value, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    throw InvalidParameter(std::string(name), "{} must be a finite number in [{}, {}], got {}",
                           name, lo, hi, value);
  }
}

void require_token_id(std::string_view name, std::int32_t id, std::int32_t vocab_size) {
  if (id < 0 || id >= vocab_size) {
    throw InvalidParameter(std::string(name), "{} token id must be in [0, {}), got {}", name,
                           vocab_size, id);
  }
}

void validate_stop_strings(const std::vector<std::string>& stop) {
  if (stop.size() > static_cast<std::size_t>(kMaxStopStrings)) {
    throw InvalidParameter("stop", "stop accepts at most {} strings, got {}", kMaxStopStrings,
                           stop.size());
  }
  for (const auto& s : stop) {
    if (s.empty()) throw InvalidParameter("stop", "stop strings must not be empty");
    if (s.size() > static_cast<std::size_t>(kMaxStopStringBytes)) {
      throw InvalidParameter("stop", "each stop string must be at most {} bytes, got {}",
                             kMaxStopStringBytes, s.size());
    }
  }
}

}  // namespace

void validate(const SamplingParams& params, std::int32_t vocab_size) {
  require_in("n", params.n, 1, kMaxN);
  if (params.max_tokens < 1) {
    throw InvalidParameter("max_tokens", "max_tokens must be >= 1, got {}", params.max_tokens);
  }
  require_in("min_tokens", params.min_tokens, 0, params.max_tokens);
  if (!std::isfinite(params.temperature) || params.temperature < 0.0f) {
    throw InvalidParameter("temperature", "temperature must be a finite number >= 0, got {}",
                           params.temperature);
  }
  if (!std::isfinite(params.top_p) || params.top_p <= 0.0f || params.top_p > 1.0f) {
    throw InvalidParameter("top_p", "top_p must be a finite number in (0, 1], got {}",
                           params.top_p);
  }
  if (params.top_k < 0) {
    throw InvalidParameter("top_k", "top_k must be >= 0 (0 = no limit), got {}", params.top_k);
  }
  require_finite_in("min_p", params.min_p, 0.0, 1.0);
  if (!std::isfinite(params.repetition_penalty) || params.repetition_penalty <= 0.0f) {
    throw InvalidParameter("repetition_penalty",
                           "repetition_penalty must be a finite number > 0, got {}",
                           params.repetition_penalty);
  }
  require_finite_in("presence_penalty", params.presence_penalty, -2.0, 2.0);
  require_finite_in("frequency_penalty", params.frequency_penalty, -2.0, 2.0);
  for (const auto& [id, bias] : params.logit_bias) {
    require_token_id("logit_bias", id, vocab_size);
    if (!std::isfinite(bias) || bias < -100.0f || bias > 100.0f) {
      throw InvalidParameter(
          "logit_bias", "logit_bias of token {} must be a finite number in [-100, 100], got {}", id,
          bias);
    }
  }
  if (params.logprobs) require_in("logprobs", *params.logprobs, 0, kMaxLogprobs);
  for (auto id : params.stop_token_ids) require_token_id("stop_token_ids", id, vocab_size);
  validate_stop_strings(params.stop);
}

}  // namespace llmserve::engine
