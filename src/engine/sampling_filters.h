#pragma once
// The probability filters of one row: top-k, top-p and min-p each keep the most likely tokens,
// found through a histogram of the probabilities rather than by sorting the vocabulary.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "llmserve/engine/sampling_params.h"

namespace llmserve::engine::detail {

// Unnormalised probabilities lie in [0, 1]; their float bits, shifted, bucket them by exponent
// and top 3 mantissa bits (8 buckets per octave), so a higher bucket holds only larger values.
constexpr int kBucketShift = 20;
constexpr std::size_t kNumBuckets = (std::bit_cast<std::uint32_t>(1.0f) >> kBucketShift) + 1;

// Interleaved copies of the histogram, merged after the pass (see fill_histogram).
constexpr std::size_t kHistogramCopies = 4;

// The last token kept, in the order most likely first (ties: lower id): a token is kept when
// it sorts no later. Every filter (top-k, top-p, min-p) keeps such a prefix.
struct Cut {
  float prob;
  std::int32_t id;
};

// Scratch for the bucket histogram: [kHistogramCopies][kNumBuckets] each.
struct Histogram {
  std::span<double> mass;
  std::span<std::int32_t> count;
};

// Top-k (then top-p over what it left): the k most likely sorted, a prefix of them kept.
Cut top_k_cut(const SamplingParams& params, std::span<const float> probs,
              const Histogram& histogram, std::span<std::int32_t> candidates);

// Top-p alone: the histogram finds the bucket where the mass crosses top_p; only that bucket's
// tokens are sorted.
std::optional<Cut> top_p_cut(float top_p, std::span<const float> probs, double total,
                             const Histogram& histogram, std::span<std::int32_t> candidates);

// Zeroes the probability of every token the filters drop.
void keep_only(std::span<float> probs, std::optional<Cut> cut, float min_p);

}  // namespace llmserve::engine::detail
