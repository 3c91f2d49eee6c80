#include "llmserve/engine/sampler.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cmath>

#include "llmserve/common/error.h"
#include "sampling_filters.h"
#include "vocab_math.h"

namespace llmserve::engine {
namespace {

bool in_vocab(std::int32_t id, std::size_t vocab) {
  return id >= 0 && static_cast<std::size_t>(id) < vocab;
}

std::optional<std::int32_t> first_outside_vocab(std::span<const std::int32_t> ids,
                                                std::size_t vocab) {
  for (auto id : ids) {
    if (!in_vocab(id, vocab)) return id;
  }
  return std::nullopt;
}

std::string describe_non_finite(std::span<const float> logits) {
  const auto it =
      std::find_if(logits.begin(), logits.end(), [](float x) { return !std::isfinite(x); });
  return non_finite_logit_error(static_cast<std::int32_t>(it - logits.begin()), *it);
}

void apply_logit_bias(const SamplingParams& params, std::span<float> work) {
  for (const auto& [id, bias] : params.logit_bias) work[id] += bias;
}

// Touches only the tokens present; output_count and penalised are all zero on entry and exit.
void apply_penalties(const SamplerRow& row, std::span<float> work,
                     std::span<std::int32_t> output_count, std::span<std::uint8_t> penalised) {
  const auto& params = *row.params;
  const bool repetition = params.repetition_penalty != 1.0f;
  if (!repetition && params.presence_penalty == 0.0f && params.frequency_penalty == 0.0f) return;
  for (auto id : row.output_ids) ++output_count[id];
  auto penalise = [&](std::int32_t id) {
    if (penalised[id]) return;
    penalised[id] = 1;
    float& logit = work[id];
    if (repetition) {
      logit = logit > 0.0f ? logit / params.repetition_penalty : logit * params.repetition_penalty;
    }
    if (const auto count = output_count[id]; count > 0) {
      logit -= params.frequency_penalty * static_cast<float>(count) + params.presence_penalty;
    }
  };
  for (auto id : row.output_ids) penalise(id);
  if (repetition) {
    for (auto id : row.prompt_ids) penalise(id);
    for (auto id : row.prompt_ids) penalised[id] = 0;
  }
  for (auto id : row.output_ids) {
    output_count[id] = 0;
    penalised[id] = 0;
  }
}

void mask_stop_tokens(const SamplingParams& params, std::span<const std::int32_t> eos_token_ids,
                      std::span<float> work) {
  if (!params.ignore_eos) {
    for (auto id : eos_token_ids) work[id] = detail::kMasked;
  }
  for (auto id : params.stop_token_ids) work[id] = detail::kMasked;
}

struct DrawScratch {
  std::span<std::int32_t> candidates;
  detail::Histogram histogram;
  std::span<double> block_mass;
};

// One draw from the transformed logits `work` (max finite) under temperature, top-k, top-p and
// min-p, walked in id order. Overwrites `work` with unnormalised probabilities.
std::int32_t draw_token(const SamplingParams& params, std::span<float> work, float max,
                        const DrawScratch& scratch, std::mt19937_64& rng) {
  detail::to_probabilities(work, max, params.temperature);
  const double u = std::generate_canonical<double, 53>(rng);
  const bool top_k = params.top_k > 0 && static_cast<std::size_t>(params.top_k) < work.size();
  std::optional<detail::Cut> cut;
  if (top_k) {
    cut = detail::top_k_cut(params, work, scratch.histogram, scratch.candidates);
  } else if (params.top_p < 1.0f) {
    const double total = detail::lane_sum(work);
    cut = detail::top_p_cut(params.top_p, work, total, scratch.histogram, scratch.candidates);
  }
  // The most likely token has probability 1 >= min_p, so something is always kept.
  if (cut || params.min_p > 0.0f) detail::keep_only(work, cut, params.min_p);
  const double total = detail::block_sums(work, scratch.block_mass);
  return detail::walk(work, scratch.block_mass, total, u);
}

bool more_likely_logit(const TokenLogprob& a, const TokenLogprob& b) {
  return a.logprob > b.logprob || (a.logprob == b.logprob && a.id < b.id);
}

// The n largest raw logits, most likely first (ties: lower id), by one pass keeping a heap of n.
std::vector<TokenLogprob> top_logits(std::span<const float> logits, std::size_t n) {
  std::vector<TokenLogprob> heap;  // front: the least likely kept
  if (n == 0) return heap;
  heap.reserve(n);
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const TokenLogprob token{static_cast<std::int32_t>(i), logits[i]};
    if (heap.size() < n) {
      heap.push_back(token);
      std::push_heap(heap.begin(), heap.end(), more_likely_logit);
    } else if (more_likely_logit(token, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), more_likely_logit);
      heap.back() = token;
      std::push_heap(heap.begin(), heap.end(), more_likely_logit);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), more_likely_logit);
  return heap;
}

// log_softmax of the raw logits at `token` and at the top n, without a [vocab] vector: one
// log-sum-exp and one selection pass.
void fill_logprobs(std::span<const float> logits, std::int32_t n, SampleResult& result) {
  const double log_z = detail::log_sum_exp(logits);
  auto logprob = [log_z](float logit) {
    return static_cast<float>(static_cast<double>(logit) - log_z);
  };
  result.logprob = logprob(logits[static_cast<std::size_t>(result.token)]);
  result.top = top_logits(logits, static_cast<std::size_t>(n));
  for (auto& entry : result.top) entry.logprob = logprob(entry.logprob);
}

}  // namespace

std::optional<std::string> invalid_row_ids(const SamplerRow& row, std::size_t vocab) {
  const auto& params = *row.params;
  std::optional<std::int32_t> bad = first_outside_vocab(row.output_ids, vocab);
  if (!bad) bad = first_outside_vocab(row.prompt_ids, vocab);
  if (!bad) bad = first_outside_vocab(params.stop_token_ids, vocab);
  for (const auto& [id, bias] : params.logit_bias) {
    if (!bad && !in_vocab(id, vocab)) bad = id;
  }
  if (bad) return fmt::format("token id {} is outside the vocabulary [0, {})", *bad, vocab);
  return std::nullopt;
}

std::string non_finite_logit_error(std::int32_t id, float value) {
  return fmt::format("the logit of token {} is {}: the model produced a non-finite value", id,
                     value);
}

std::string unsampleable_error(bool all_masked) {
  return all_masked ? "every token is masked (min_tokens with only EOS / stop tokens)"
                    : "a penalty or logit_bias pushed a logit to infinity";
}

Sampler::Sampler(std::int32_t vocab_size, std::vector<std::int32_t> eos_token_ids)
    : vocab_size_(vocab_size), eos_token_ids_(std::move(eos_token_ids)) {
  if (vocab_size_ <= 0) throw Error("the sampler needs a vocabulary, got size {}", vocab_size_);
  if (auto bad = first_outside_vocab(eos_token_ids_, static_cast<std::size_t>(vocab_size_))) {
    throw Error("EOS token id {} is outside the vocabulary [0, {})", *bad, vocab_size_);
  }
}

void Sampler::sample(std::span<const SamplerRow> rows, std::span<SampleResult> results) {
  assert(rows.size() == results.size());
  prepare_scratch();
  const auto num_rows = static_cast<std::ptrdiff_t>(rows.size());
  // A lone row gains nothing from a thread team and would pay its wake-up.
#pragma omp parallel for schedule(dynamic) if (num_rows > 1)
  for (std::ptrdiff_t i = 0; i < num_rows; ++i) {
    // An exception must not leave an OpenMP region (std::terminate); it fails its row only.
    try {
      sample_row(rows[i], scratch_[static_cast<std::size_t>(omp_get_thread_num())], results[i]);
    } catch (const std::exception& e) {
      results[i].token = -1;
      results[i].error = e.what();
    }
  }
}

// Sized here, outside the parallel region, so that rows never allocate scratch.
void Sampler::prepare_scratch() {
  const auto threads = static_cast<std::size_t>(omp_get_max_threads());
  if (scratch_.size() < threads) scratch_.resize(threads);
  const auto vocab = static_cast<std::size_t>(vocab_size_);
  for (auto& scratch : scratch_) {
    if (!scratch.work.empty()) continue;
    scratch.work.resize(vocab);
    scratch.candidates.resize(vocab);
    scratch.output_count.assign(vocab, 0);
    scratch.penalised.assign(vocab, 0);
    scratch.bucket_mass.resize(detail::kHistogramCopies * detail::kNumBuckets);
    scratch.bucket_count.resize(detail::kHistogramCopies * detail::kNumBuckets);
    scratch.block_mass.resize((vocab + detail::kBlock - 1) / detail::kBlock);
  }
}

void Sampler::sample_row(const SamplerRow& row, Scratch& scratch, SampleResult& result) const {
  assert(row.params != nullptr);
  const auto& params = *row.params;
  const auto vocab = static_cast<std::size_t>(vocab_size_);
  result = SampleResult{};
  if (row.logits.size() != vocab) {
    result.error = fmt::format("the row has {} logits, expected {}", row.logits.size(), vocab);
    return;
  }
  std::span<float> work(scratch.work);
  if (!detail::copy_all_finite(row.logits, work)) {
    result.error = describe_non_finite(row.logits);
    return;
  }
  if (auto error = invalid_row_ids(row, vocab)) {
    result.error = std::move(error);
    return;
  }
  apply_logit_bias(params, work);
  apply_penalties(row, work, scratch.output_count, scratch.penalised);
  if (row.output_ids.size() < static_cast<std::size_t>(std::max(params.min_tokens, 0))) {
    mask_stop_tokens(params, eos_token_ids_, work);
  }
  const float max = detail::max_of(work);
  if (!std::isfinite(max)) {
    result.error = unsampleable_error(max < 0.0f);
    return;
  }
  if (params.temperature < kGreedyBelowTemperature) {
    // The first maximum: lowest id on ties.
    result.token =
        static_cast<std::int32_t>(std::find(work.begin(), work.end(), max) - work.begin());
  } else {
    assert(row.rng != nullptr);
    const DrawScratch draw_scratch{
        scratch.candidates, {scratch.bucket_mass, scratch.bucket_count}, scratch.block_mass};
    result.token = draw_token(params, work, max, draw_scratch, *row.rng);
  }
  if (params.logprobs) fill_logprobs(row.logits, *params.logprobs, result);
}

}  // namespace llmserve::engine
