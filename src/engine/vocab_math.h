#pragma once
// Numeric passes over one vocabulary row for the sampler: exp, sums, maxima, the finite check,
// and the draw's walk over block sums. Sums reduce in a fixed grouping, so a row's result never
// depends on the thread or the alignment it ran at.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace llmserve::engine::detail {

// A masked logit: its probability comes out as 0 exactly.
constexpr float kMasked = -std::numeric_limits<float>::infinity();

// The draw walks block sums first, then one block: kBlock sequential additions at most.
constexpr std::size_t kBlock = 64;

// Copies `from` and tells whether every value was finite (exponent bits not all ones).
bool copy_all_finite(std::span<const float> from, std::span<float> to);

float max_of(std::span<const float> values);

// log(sum of exp(values)), the log_softmax normaliser; every value is finite.
double log_sum_exp(std::span<const float> values);

// exp((logit - max) / temperature) in place: the most likely token gets exactly 1.
void to_probabilities(std::span<float> work, float max, float temperature);

// The sum of values, accumulated in double.
double lane_sum(std::span<const float> values);

// Fills block_mass[b] with the sum of probs over block b; returns the total.
double block_sums(std::span<const float> probs, std::span<double> block_mass);

// The token where the running sum of probs, in id order, first exceeds u * total: the block
// sums locate the block, then one block is walked. When rounding leaves the target out of reach,
// the last non-empty block is walked and its last token of non-zero probability taken.
std::int32_t walk(std::span<const float> probs, std::span<const double> block_mass, double total,
                  double u);

}  // namespace llmserve::engine::detail
