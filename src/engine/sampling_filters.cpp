#include "sampling_filters.h"

#include <algorithm>
#include <limits>

namespace llmserve::engine::detail {
namespace {

std::uint32_t bucket_of(float p) { return std::bit_cast<std::uint32_t>(p) >> kBucketShift; }

bool more_likely(std::span<const float> probs, std::int32_t a, std::int32_t b) {
  return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
}

void sort_most_likely_first(std::span<std::int32_t> ids, std::span<const float> probs,
                            std::size_t keep) {
  auto order = [probs](std::int32_t a, std::int32_t b) { return more_likely(probs, a, b); };
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(), order);
}

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

}  // namespace

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

}  // namespace llmserve::engine::detail
