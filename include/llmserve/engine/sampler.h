#pragma once
// Picks the next token of every scheduled row in one call, each row with its own SamplingParams
// and random generator. Order of transforms (vLLM's): logit_bias, repetition / presence /
// frequency penalties, min_tokens (EOS and stop token ids masked), temperature (0 = argmax, lowest
// id on ties), top-k, top-p, min-p, then one draw from the row's generator. A row's result
// depends only on that row's inputs and generator, never on the other rows, so a seeded request
// gives the same tokens whatever it is batched with. Reported logprobs are the model's own
// (log_softmax of the raw logits, before any transform), as vLLM and OpenAI report them.
//
// Details: a temperature below 1e-5 is greedy, as in vLLM (dividing by it would overflow); a
// greedy row draws nothing from its generator, a sampled row exactly one double. Top-k keeps the k
// most likely tokens (ties: lower id first); top-p then keeps the shortest run of the most likely
// tokens whose mass reaches top_p of what top-k left; min-p then drops tokens below min_p times
// the most likely; the draw walks the kept tokens in id order. Cost per row: a few vectorised
// passes over the vocabulary (one exp per token when sampling, one more when logprobs are
// asked); top-p sorts only the tokens of the probability bucket where its cut falls, top-k those
// of the buckets that hold the k most likely, never the whole vocabulary.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "llmserve/engine/sampling_params.h"

namespace llmserve::engine {

// vLLM's threshold: below it a row is greedy (1 / temperature must stay finite).
inline constexpr float kGreedyBelowTemperature = 1e-5f;

struct TokenLogprob {
  std::int32_t id = 0;
  float logprob = 0.0f;
};

struct SamplerRow {
  std::span<const float> logits;  // [vocab_size], left untouched
  const SamplingParams* params = nullptr;
  std::span<const std::int32_t> prompt_ids;  // repetition penalty
  std::span<const std::int32_t> output_ids;  // penalties and min_tokens
  std::mt19937_64* rng = nullptr;
  std::int32_t logits_row = 0;  // the row of the step's logits (device sampling; forks share one)
};

struct SampleResult {
  std::int32_t token = -1;
  float logprob = 0.0f;              // of `token`, when params->logprobs is set
  std::vector<TokenLogprob> top;     // params->logprobs most likely, most likely first
  std::optional<std::string> error;  // the row could not be sampled (non-finite logits)
};

// The row's checks and error messages, shared with sampling on the device
// (device_sampling_rows.h). Why the row's token ids cannot be used, if they cannot: an id in its
// history, stop_token_ids or logit_bias outside the vocabulary.
std::optional<std::string> invalid_row_ids(const SamplerRow& row, std::size_t vocab_size);
std::string non_finite_logit_error(std::int32_t id, float value);
// After the edits no logit is finite: every one masked, or one pushed to +inf.
std::string unsampleable_error(bool all_masked);

class Sampler {
 public:
  // eos_token_ids are masked while a row is below min_tokens (unless ignore_eos).
  Sampler(std::int32_t vocab_size, std::vector<std::int32_t> eos_token_ids);

  // results.size() == rows.size(). Rows run in parallel; scratch memory is reused across calls.
  // One caller at a time (the engine thread): the scratch buffers belong to this Sampler.
  void sample(std::span<const SamplerRow> rows, std::span<SampleResult> results);

 private:
  // Buffers of one OpenMP thread, sized once so that a row allocates nothing but `top`.
  struct Scratch {
    std::vector<float> work;                 // [vocab] transformed logits, then probabilities
    std::vector<std::int32_t> candidates;    // [vocab] ids that may survive top-k / top-p
    std::vector<std::int32_t> output_count;  // [vocab] all zero between rows
    std::vector<std::uint8_t> penalised;     // [vocab] all zero between rows
    std::vector<double> bucket_mass;         // [copies][probability buckets]
    std::vector<std::int32_t> bucket_count;  // [copies][probability buckets]
    std::vector<double> block_mass;          // [vocab / block] for the draw's walk
  };

  void prepare_scratch();
  void sample_row(const SamplerRow& row, Scratch& scratch, SampleResult& result) const;

  std::int32_t vocab_size_;
  std::vector<std::int32_t> eos_token_ids_;
  std::vector<Scratch> scratch_;  // [OpenMP threads]
};

}  // namespace llmserve::engine
