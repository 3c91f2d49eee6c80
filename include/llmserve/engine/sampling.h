#pragma once
// Per-row sampling primitives over one row of logits [vocab]. The batched Sampler of the engine
// builds on these; the offline generator uses them directly.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace llmserve::engine {

struct TokenLogprob {
  std::int32_t id = 0;
  float logprob = 0.0f;
};

// log_softmax in double for accuracy, returned as float.
std::vector<float> log_softmax(std::span<const float> logits);

// The k most likely tokens, most likely first (ties: lower id first).
std::vector<TokenLogprob> top_logprobs(std::span<const float> logprobs, std::int32_t k);

// temperature == 0: argmax (lowest id on ties). Otherwise a draw from softmax(logits / T).
std::int32_t sample_token(std::span<const float> logits, float temperature, std::mt19937_64& rng);

}  // namespace llmserve::engine
