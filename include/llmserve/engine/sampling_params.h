#pragma once
// What a request asks of generation: how to pick each token and when to stop. Field names and
// ranges follow vLLM / the OpenAI API, so the HTTP layers map their JSON onto this one struct.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "llmserve/common/error.h"

namespace llmserve::engine {

struct SamplingParams {
  std::int32_t n = 1;               // completions per prompt, sharing the prompt's KV blocks
  std::int32_t max_tokens = 16;     // >= 1
  std::int32_t min_tokens = 0;      // EOS / stop tokens / stop strings are ignored before this
  float temperature = 1.0f;         // 0 = greedy
  float top_p = 1.0f;               // (0, 1]
  std::int32_t top_k = 0;           // 0 = no limit
  float min_p = 0.0f;               // [0, 1]: drop tokens below min_p * p(most likely)
  float repetition_penalty = 1.0f;  // > 0; prompt and output tokens (HF / vLLM semantics)
  float presence_penalty = 0.0f;    // [-2, 2]; output tokens (OpenAI semantics)
  float frequency_penalty = 0.0f;   // [-2, 2]; output tokens, times their count
  std::vector<std::pair<std::int32_t, float>> logit_bias;  // token id -> bias in [-100, 100]
  std::optional<std::uint64_t> seed;     // same seed, same tokens, whatever else is in the batch
  std::optional<std::int32_t> logprobs;  // report the sampled token's logprob and this many top
  bool ignore_eos = false;
  std::vector<std::int32_t> stop_token_ids;
  std::vector<std::string> stop;  // stop strings; the matched text is not returned
  bool skip_special_tokens = true;
};

inline constexpr std::int32_t kMaxN = 64;
inline constexpr std::int32_t kMaxLogprobs = 20;
inline constexpr std::int32_t kMaxStopStrings = 16;
inline constexpr std::int32_t kMaxStopStringBytes = 256;  // bounds the text a StopChecker holds

// A request field out of range. `param()` is the field's name as the APIs spell it.
class InvalidParameter : public Error {
 public:
  template <typename... Args>
  InvalidParameter(std::string param, fmt::format_string<Args...> format, Args&&... args)
      : Error(format, std::forward<Args>(args)...), param_(std::move(param)) {}
  const std::string& param() const { return param_; }

 private:
  std::string param_;
};

// Throws InvalidParameter naming the first field out of range (token ids must be < vocab_size).
void validate(const SamplingParams& params, std::int32_t vocab_size);

}  // namespace llmserve::engine
