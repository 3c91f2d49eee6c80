#include "statistics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace llmserve::loadgen {

double percentile(std::span<const double> sorted, double q) {
  assert(!sorted.empty() && q >= 0 && q <= 100);
  const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(rank));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = rank - static_cast<double>(below);
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

Distribution summarize(std::vector<double> samples) {
  Distribution d;
  d.count = samples.size();
  if (samples.empty()) return d;
  std::sort(samples.begin(), samples.end());
  d.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(d.count);
  d.min = samples.front();
  d.max = samples.back();
  d.p50 = percentile(samples, 50);
  d.p95 = percentile(samples, 95);
  d.p99 = percentile(samples, 99);
  return d;
}

nlohmann::json to_json(const Distribution& distribution) {
  const auto value = [&](double x) {
    return distribution.count == 0 ? nlohmann::json(nullptr) : nlohmann::json(x);
  };
  return {{"count", distribution.count},    {"mean", value(distribution.mean)},
          {"min", value(distribution.min)}, {"p50", value(distribution.p50)},
          {"p95", value(distribution.p95)}, {"p99", value(distribution.p99)},
          {"max", value(distribution.max)}};
}

}  // namespace llmserve::loadgen
