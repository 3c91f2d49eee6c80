#include "llmserve/engine/sampler.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <limits>

#include "llmserve/common/error.h"

namespace llmserve::engine {
namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

// vLLM's threshold: 1 / temperature must stay finite.
constexpr float kGreedyBelowTemperature = 1e-5f;

// Unnormalised probabilities lie in [0, 1]; their float bits, shifted, bucket them by exponent
// and top 3 mantissa bits (8 buckets per octave), so a higher bucket holds only larger values.
constexpr int kBucketShift = 20;
constexpr std::size_t kNumBuckets = (std::bit_cast<std::uint32_t>(1.0f) >> kBucketShift) + 1;

constexpr std::size_t kHistogramCopies = 4;

std::uint32_t bucket_of(float p) { return std::bit_cast<std::uint32_t>(p) >> kBucketShift; }

// The draw walks block sums first, then one block: kBlock sequential additions at most.
constexpr std::size_t kBlock = 64;
constexpr std::size_t kLanes = 8;

// exp(x) for x <= 0 without a libm call, so that loops over the vocabulary vectorise:
// Cody-Waite reduction to r in [-ln2/2, ln2/2], a degree-7 Taylor polynomial (relative error
// about 1e-7, a few float ulps), 2^n from exponent bits. Below -87 (and for -inf) the result is
// masked to 0, so a masked token gets probability 0 exactly. Clamp and mask work on the bits
// (for x <= 0 they grow with |x|): under the default -ftrapping-math GCC does not vectorise a
// float select here, and the clamp keeps the float-to-int conversion defined.
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504f, kLn2Hi = 0.693145752f, kLn2Lo = 1.42860677e-6f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  constexpr std::uint32_t kLowest = std::bit_cast<std::uint32_t>(-87.0f);
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const float clamped = std::bit_cast<float>(std::min(bits, kLowest));
  const float n = (clamped * kLog2e + kRound) - kRound;
  const float r = (clamped - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto scale = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(bits <= kLowest);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(p * scale) & mask);
}

// Sum in kLanes interleaved partial sums: vectorised, and grouped the same way on every thread
// and at every alignment, so a row's result never depends on where it ran.
double lane_sum(const float* values, std::size_t size) {
  std::array<double, kLanes> lanes{};
  std::size_t i = 0;
  for (; i + kLanes <= size; i += kLanes) {
    for (std::size_t j = 0; j < kLanes; ++j) lanes[j] += values[i + j];
  }
  double sum = 0.0;
  for (; i < size; ++i) sum += values[i];
  for (double lane : lanes) sum += lane;
  return sum;
}

// Fills block_mass[b] with the sum of probs over block b; returns the total.
double block_sums(std::span<const float> probs, std::span<double> block_mass) {
  double total = 0.0;
  for (std::size_t b = 0, begin = 0; begin < probs.size(); ++b, begin += kBlock) {
    block_mass[b] = lane_sum(probs.data() + begin, std::min(kBlock, probs.size() - begin));
    total += block_mass[b];
  }
  return total;
}

// kLanes independent maxima: one dependent chain would cost its latency per token.
float max_of(std::span<const float> values) {
  std::array<float, kLanes> lanes;
  lanes.fill(kMasked);
  std::size_t i = 0;
  for (; i + kLanes <= values.size(); i += kLanes) {
    for (std::size_t j = 0; j < kLanes; ++j) lanes[j] = std::max(lanes[j], values[i + j]);
  }
  float max = kMasked;
  for (; i < values.size(); ++i) max = std::max(max, values[i]);
  for (float lane : lanes) max = std::max(max, lane);
  return max;
}

// Copies `from` and tells whether every value was finite (exponent bits not all ones).
bool copy_all_finite(std::span<const float> from, std::span<float> to) {
  std::uint32_t non_finite = 0;
#pragma omp simd reduction(| : non_finite)
  for (std::size_t i = 0; i < from.size(); ++i) {
    to[i] = from[i];
    non_finite |= (std::bit_cast<std::uint32_t>(from[i]) & 0x7F800000u) == 0x7F800000u;
  }
  return non_finite == 0;
}

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

// Why the row's token ids cannot be used; checked before anything indexes by them.
std::optional<std::string> check_ids(const SamplerRow& row, std::size_t vocab) {
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

std::string describe_non_finite(std::span<const float> logits) {
  const auto it =
      std::find_if(logits.begin(), logits.end(), [](float x) { return !std::isfinite(x); });
  return fmt::format("the logit of token {} is {}: the model produced a non-finite value",
                     it - logits.begin(), *it);
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
    for (auto id : eos_token_ids) work[id] = kMasked;
  }
  for (auto id : params.stop_token_ids) work[id] = kMasked;
}

// exp((logit - max) / temperature) in place: the most likely token gets exactly 1.
void to_probabilities(std::span<float> work, float max, float temperature) {
  const float inverse_temperature = 1.0f / temperature;
#pragma omp simd
  for (std::size_t i = 0; i < work.size(); ++i) {
    work[i] = exp_nonpositive((work[i] - max) * inverse_temperature);
  }
}

// The last token kept, in the order most likely first (ties: lower id): a token is kept when
// it sorts no later. Every filter (top-k, top-p, min-p) keeps such a prefix.
struct Cut {
  float prob;
  std::int32_t id;
};

bool more_likely(std::span<const float> probs, std::int32_t a, std::int32_t b) {
  return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
}

void sort_most_likely_first(std::span<std::int32_t> ids, std::span<const float> probs,
                            std::size_t keep) {
  auto order = [probs](std::int32_t a, std::int32_t b) { return more_likely(probs, a, b); };
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(), order);
}

struct Histogram {
  std::span<double> mass;
  std::span<std::int32_t> count;
};

// Neighbouring tokens often share a bucket, and each update would wait for the previous one's
// store: kHistogramCopies interleaved histograms break that chain, then merge into the first.
// No branch on the value: a data-dependent branch mispredicts on a heavy tail.
void fill_histogram(std::span<const float> probs, const Histogram& histogram) {
  std::fill(histogram.mass.begin(), histogram.mass.end(), 0.0);
  std::fill(histogram.count.begin(), histogram.count.end(), 0);
  for (std::size_t i = 0; i < probs.size(); ++i) {
    const auto slot = (i % kHistogramCopies) * kNumBuckets + bucket_of(probs[i]);
    histogram.mass[slot] += probs[i];
    ++histogram.count[slot];
  }
  for (std::size_t copy = 1; copy < kHistogramCopies; ++copy) {
    for (std::size_t bucket = 0; bucket < kNumBuckets; ++bucket) {
      histogram.mass[bucket] += histogram.mass[copy * kNumBuckets + bucket];
      histogram.count[bucket] += histogram.count[copy * kNumBuckets + bucket];
    }
  }
}

// Top-k (then top-p over what it left): the k most likely sorted, a prefix of them kept.
Cut top_k_cut(const SamplingParams& params, std::span<const float> probs,
              const Histogram& histogram, std::span<std::int32_t> candidates) {
  const auto k = static_cast<std::size_t>(params.top_k);
  fill_histogram(probs, histogram);
  auto bucket = static_cast<std::uint32_t>(kNumBuckets - 1);
  for (std::size_t count = 0;; --bucket) {
    count += static_cast<std::size_t>(histogram.count[bucket]);
    if (count >= k || bucket == 0) break;
  }
  std::size_t size = 0;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    if (bucket_of(probs[i]) >= bucket) candidates[size++] = static_cast<std::int32_t>(i);
  }
  const auto top = candidates.first(size);
  sort_most_likely_first(top, probs, k);
  auto kept = top.first(k);
  if (params.top_p < 1.0f) {
    double mass = 0.0;
    for (auto id : kept) mass += probs[id];
    const double target = params.top_p * mass;
    double cumulative = 0.0;
    std::size_t size_kept = 0;
    while (size_kept < kept.size() && cumulative < target) cumulative += probs[kept[size_kept++]];
    kept = kept.first(std::max<std::size_t>(size_kept, 1));
  }
  return {probs[kept.back()], kept.back()};
}

// Top-p alone: the histogram finds the bucket where the mass crosses top_p; only that bucket's
// tokens are sorted.
std::optional<Cut> top_p_cut(float top_p, std::span<const float> probs, double total,
                             const Histogram& histogram, std::span<std::int32_t> candidates) {
  const double target = top_p * total;
  fill_histogram(probs, histogram);
  double mass_above = 0.0;
  auto bucket = static_cast<std::uint32_t>(kNumBuckets - 1);
  while (mass_above + histogram.mass[bucket] < target) {
    mass_above += histogram.mass[bucket];
    if (bucket == 0) return std::nullopt;  // rounding: keep everything
    --bucket;
  }
  std::size_t size = 0;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    if (bucket_of(probs[i]) == bucket) candidates[size++] = static_cast<std::int32_t>(i);
  }
  const auto in_bucket = candidates.first(size);
  sort_most_likely_first(in_bucket, probs, size);
  double cumulative = mass_above;
  for (auto id : in_bucket) {
    cumulative += probs[id];
    if (cumulative >= target) return Cut{probs[id], id};
  }
  return Cut{probs[in_bucket.back()], in_bucket.back()};
}

// Zeroes the probability of every token the filters drop.
void keep_only(std::span<float> probs, std::optional<Cut> cut, float min_p) {
  const float cut_prob = cut ? cut->prob : 0.0f;
  const std::int32_t cut_id = cut ? cut->id : std::numeric_limits<std::int32_t>::max();
#pragma omp simd
  for (std::size_t i = 0; i < probs.size(); ++i) {
    const float p = probs[i];
    // Bitwise, not short-circuit, operators: a branch would stop vectorisation.
    const bool ranked =
        (p > cut_prob) | ((p == cut_prob) & (static_cast<std::int32_t>(i) <= cut_id));
    probs[i] = ranked & (p >= min_p) ? p : 0.0f;
  }
}

// The token where the running sum of probs, in id order, first exceeds u * total: the block
// sums locate the block, then one block is walked. When rounding leaves the target out of reach,
// the last non-empty block is walked and its last token of non-zero probability taken.
std::int32_t walk(std::span<const float> probs, std::span<const double> block_mass, double total,
                  double u) {
  const double target = u * total;
  double cumulative = 0.0;
  std::size_t block = 0, chosen = 0;
  for (; block < block_mass.size(); ++block) {
    if (block_mass[block] == 0.0) continue;
    chosen = block;
    if (target < cumulative + block_mass[block]) break;
    cumulative += block_mass[block];
  }
  if (block == block_mass.size()) cumulative -= block_mass[chosen];
  const auto begin = chosen * kBlock;
  const auto end = std::min(begin + kBlock, probs.size());
  std::size_t last = begin;
  for (std::size_t i = begin; i < end; ++i) {
    if (probs[i] == 0.0f) continue;
    last = i;
    cumulative += probs[i];
    if (target < cumulative) break;
  }
  return static_cast<std::int32_t>(last);
}

struct DrawScratch {
  std::span<std::int32_t> candidates;
  Histogram histogram;
  std::span<double> block_mass;
};

// One draw from the transformed logits `work` (max finite) under temperature, top-k, top-p and
// min-p, walked in id order. Overwrites `work` with unnormalised probabilities.
std::int32_t draw_token(const SamplingParams& params, std::span<float> work, float max,
                        const DrawScratch& scratch, std::mt19937_64& rng) {
  to_probabilities(work, max, params.temperature);
  const double u = std::generate_canonical<double, 53>(rng);
  const bool top_k = params.top_k > 0 && static_cast<std::size_t>(params.top_k) < work.size();
  std::optional<Cut> cut;
  if (top_k) {
    cut = top_k_cut(params, work, scratch.histogram, scratch.candidates);
  } else if (params.top_p < 1.0f) {
    const double total = lane_sum(work.data(), work.size());
    cut = top_p_cut(params.top_p, work, total, scratch.histogram, scratch.candidates);
  }
  // The most likely token has probability 1 >= min_p, so something is always kept.
  if (cut || params.min_p > 0.0f) keep_only(work, cut, params.min_p);
  const double total = block_sums(work, scratch.block_mass);
  return walk(work, scratch.block_mass, total, u);
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
  const float max = max_of(logits);
  std::array<double, kLanes> lanes{};
  std::size_t i = 0;
  for (; i + kLanes <= logits.size(); i += kLanes) {
    for (std::size_t j = 0; j < kLanes; ++j) lanes[j] += exp_nonpositive(logits[i + j] - max);
  }
  double sum = 0.0;
  for (; i < logits.size(); ++i) sum += exp_nonpositive(logits[i] - max);
  for (double lane : lanes) sum += lane;
  const double log_z = max + std::log(sum);
  auto logprob = [log_z](float logit) {
    return static_cast<float>(static_cast<double>(logit) - log_z);
  };
  result.logprob = logprob(logits[static_cast<std::size_t>(result.token)]);
  result.top = top_logits(logits, static_cast<std::size_t>(n));
  for (auto& entry : result.top) entry.logprob = logprob(entry.logprob);
}

}  // namespace

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
    scratch.bucket_mass.resize(kHistogramCopies * kNumBuckets);
    scratch.bucket_count.resize(kHistogramCopies * kNumBuckets);
    scratch.block_mass.resize((vocab + kBlock - 1) / kBlock);
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
  if (!copy_all_finite(row.logits, work)) {
    result.error = describe_non_finite(row.logits);
    return;
  }
  if (auto error = check_ids(row, vocab)) {
    result.error = std::move(error);
    return;
  }
  apply_logit_bias(params, work);
  apply_penalties(row, work, scratch.output_count, scratch.penalised);
  if (row.output_ids.size() < static_cast<std::size_t>(std::max(params.min_tokens, 0))) {
    mask_stop_tokens(params, eos_token_ids_, work);
  }
  const float max = max_of(work);
  if (!std::isfinite(max)) {
    result.error = max < 0.0f ? "every token is masked (min_tokens with only EOS / stop tokens)"
                              : "a penalty or logit_bias pushed a logit to infinity";
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
