#pragma once
// Summary statistics of latency samples, the way every serving benchmark reports them.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

namespace llmserve::loadgen {

struct Distribution {
  std::size_t count = 0;
  // All in the samples' unit; meaningless (0) when count is 0, and written as null then.
  double mean = 0, min = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};

// The q-th percentile (q in [0, 100]) of ascending `sorted` samples, interpolating linearly
// between the two closest ranks (numpy's default), so that results compare with Python tools.
// `sorted` must not be empty.
double percentile(std::span<const double> sorted, double q);

Distribution summarize(std::vector<double> samples);

// {"count", "mean", "min", "p50", "p95", "p99", "max"}; the statistics are null without samples.
nlohmann::json to_json(const Distribution& distribution);

}  // namespace llmserve::loadgen
