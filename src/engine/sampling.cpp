#include "llmserve/engine/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace llmserve::engine {

std::vector<float> log_softmax(std::span<const float> logits) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max_logit);
  const double log_z = max_logit + std::log(sum);
  std::vector<float> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    out[i] = static_cast<float>(static_cast<double>(logits[i]) - log_z);
  }
  return out;
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logprobs, std::int32_t k) {
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(std::max(k, 0)), logprobs.size());
  std::vector<std::int32_t> ids(logprobs.size());
  std::iota(ids.begin(), ids.end(), 0);
  auto more_likely = [&](std::int32_t a, std::int32_t b) {
    return logprobs[a] > logprobs[b] || (logprobs[a] == logprobs[b] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
                    more_likely);
  std::vector<TokenLogprob> top;
  top.reserve(n);
  for (std::size_t i = 0; i < n; ++i) top.push_back({ids[i], logprobs[ids[i]]});
  return top;
}

std::int32_t sample_token(std::span<const float> logits, float temperature, std::mt19937_64& rng) {
  if (temperature <= 0.0f) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) -
                                     logits.begin());
  }
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  std::vector<double> weights(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    weights[i] = std::exp((static_cast<double>(logits[i]) - max_logit) / temperature);
  }
  std::discrete_distribution<std::int32_t> distribution(weights.begin(), weights.end());
  return distribution(rng);
}

}  // namespace llmserve::engine
