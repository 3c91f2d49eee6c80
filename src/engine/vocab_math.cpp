#include "vocab_math.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace llmserve::engine::detail {
namespace {

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

// Sum of term(value) in kLanes interleaved partial sums: vectorised, and grouped the same way on
// every thread and at every alignment, so a row's result never depends on where it ran.
template <typename Term>
double lane_sum_of(std::span<const float> values, Term term) {
  std::array<double, kLanes> lanes{};
  std::size_t i = 0;
  for (; i + kLanes <= values.size(); i += kLanes) {
    for (std::size_t j = 0; j < kLanes; ++j) lanes[j] += term(values[i + j]);
  }
  double sum = 0.0;
  for (; i < values.size(); ++i) sum += term(values[i]);
  for (double lane : lanes) sum += lane;
  return sum;
}

}  // namespace

bool copy_all_finite(std::span<const float> from, std::span<float> to) {
  std::uint32_t non_finite = 0;
#pragma omp simd reduction(| : non_finite)
  for (std::size_t i = 0; i < from.size(); ++i) {
    to[i] = from[i];
    non_finite |= (std::bit_cast<std::uint32_t>(from[i]) & 0x7F800000u) == 0x7F800000u;
  }
  return non_finite == 0;
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

double log_sum_exp(std::span<const float> values) {
  const float max = max_of(values);
  return max + std::log(lane_sum_of(values, [max](float x) { return exp_nonpositive(x - max); }));
}

void to_probabilities(std::span<float> work, float max, float temperature) {
  const float inverse_temperature = 1.0f / temperature;
#pragma omp simd
  for (std::size_t i = 0; i < work.size(); ++i) {
    work[i] = exp_nonpositive((work[i] - max) * inverse_temperature);
  }
}

double lane_sum(std::span<const float> values) {
  return lane_sum_of(values, [](float x) { return x; });
}

double block_sums(std::span<const float> probs, std::span<double> block_mass) {
  double total = 0.0;
  for (std::size_t b = 0, begin = 0; begin < probs.size(); ++b, begin += kBlock) {
    block_mass[b] = lane_sum(probs.subspan(begin, std::min(kBlock, probs.size() - begin)));
    total += block_mass[b];
  }
  return total;
}

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

}  // namespace llmserve::engine::detail
