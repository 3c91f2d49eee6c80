#pragma once
// Sampling where the logits are (the CUDA backend): the engine turns each row's SamplingParams
// and history into a SamplingRow (sparse logit edits plus the row's uniform draw, taken from the
// row's own generator exactly as the CPU sampler takes it), and only token ids and requested
// logprobs come back to the host. The transforms and their order are the CPU sampler's
// (engine/sampler.h): edits, temperature (below 1e-5: argmax, lowest id on ties), top-k (ties:
// lower id first), then top-p over what top-k left, min-p, and the draw walking the kept tokens
// in id order until the running mass exceeds uniform * kept mass. Logprobs are log_softmax of
// the raw logits, before any edit. So a row's token depends only on its own logits and draw,
// never on its batch; it may differ from the CPU's only where rounding moves a cut or the draw
// across a token boundary.
#include <cstdint>
#include <span>
#include <vector>

namespace llmserve::backend {

// One token's edits within a row, applied in this order: + bias; then, when `penalised`, the
// repetition penalty (positive logits divided by it, others multiplied) and, when output_count
// is positive, - (frequency_penalty * output_count + presence_penalty); then, when `masked`,
// the logit becomes -inf.
struct LogitEdit {
  std::int32_t id = 0;
  float bias = 0.0f;
  std::int32_t output_count = 0;
  bool penalised = false;
  bool masked = false;
};

struct SamplingRow {
  std::int32_t logits_row = 0;  // the row of the logits it samples (forked choices share one)
  float temperature = 0.0f;
  std::int32_t top_k = 0;  // 0: no limit
  float top_p = 1.0f;      // (0, 1]
  float min_p = 0.0f;      // [0, 1]
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  double uniform = 0.0;               // the draw, in [0, 1); unused by a greedy row
  std::int32_t num_top_logprobs = -1;  // -1: no logprobs; else the token's and this many top
  std::span<const LogitEdit> edits;   // unique ids inside the vocabulary, any order
};

struct SampledToken {
  std::int32_t token = -1;
  float logprob = 0.0f;                   // of `token`, when logprobs were asked
  std::vector<std::int32_t> top_ids;      // most likely first (ties: lower id)
  std::vector<float> top_logprobs;        // beside top_ids
  // Set when the row could not be sampled; token is then -1:
  std::int32_t non_finite_id = -1;        // the first raw logit that is NaN or infinite
  float non_finite_value = 0.0f;          // its value
  bool all_masked = false;                // after the edits, no finite logit is left
  bool infinite_after_edits = false;      // an edit pushed a logit to +inf
};

}  // namespace llmserve::backend
