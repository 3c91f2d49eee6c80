#pragma once
// A latency distribution, kept in two views:
//   - for Prometheus, cumulative buckets with fixed upper bounds (`le`, inclusive) plus the sum
//     and count of every observation since start; scrapers aggregate and compute rates from these.
//   - for the JSON summary, exact quantiles and the mean over a sliding window of the most recent
//     `window` observations, so p99 follows the current load instead of the whole uptime.
// Any thread may call any method. observe() takes one mutex for O(log buckets) work and never
// allocates once the window is full; quantile() and summarize() copy the window (O(window) and
// O(window log window)) and are meant for scrapes, not for the engine loop.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace llmserve::metrics {

// One consistent reading of the Prometheus view: cumulative_counts.back() == count.
struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // [B], finite, strictly increasing
  // [B+1]: observations <= upper_bounds[i]; the last is the +Inf bucket.
  std::vector<std::uint64_t> cumulative_counts;
  double sum = 0.0;
  std::uint64_t count = 0;
};

// The sliding window in one reading: one lock and one sort for several quantiles.
struct WindowSummary {
  std::size_t count = 0;          // observations in the window, 1 .. window
  double mean = 0.0;              // over the window
  std::vector<double> quantiles;  // one per requested q, in the order asked
};

class Histogram {
 public:
  static constexpr std::size_t kDefaultWindow = 10000;

  // `upper_bounds` must be finite and strictly increasing (may be empty: then only the +Inf
  // bucket); a trailing +Inf is accepted and dropped, as the +Inf bucket always exists.
  // Throws llmserve::Error on bad bounds or window == 0.
  explicit Histogram(std::vector<double> upper_bounds, std::size_t window = kDefaultWindow);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // `count` bounds start, start * factor, start * factor^2, ... Throws llmserve::Error unless
  // start > 0, factor > 1, count >= 1 and the last bound is finite.
  static std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

  // A NaN is ignored: it belongs in no bucket and would poison the sum and every quantile.
  void observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  std::size_t window() const { return window_capacity_; }

  std::uint64_t count() const;  // since start, the Prometheus _count
  double sum() const;           // since start, the Prometheus _sum
  HistogramSnapshot snapshot() const;

  // Over the window. Quantiles interpolate linearly between closest ranks (numpy's default, type 7
  // of Hyndman & Fan): with the window sorted as x[0..n-1] and h = q * (n - 1), the result is
  // x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]); q = 0 is the minimum, q = 1 the
  // maximum. An empty window gives nullopt rather than a 0 that would read as a real latency.
  // Throws llmserve::Error unless 0 <= q <= 1.
  std::size_t window_count() const;
  std::optional<double> quantile(double q) const;
  std::optional<double> mean() const;
  std::optional<WindowSummary> summarize(std::span<const double> qs) const;

 private:
  const std::vector<double> upper_bounds_;  // [B]
  const std::size_t window_capacity_;

  mutable std::mutex mutex_;
  std::vector<std::uint64_t> bucket_counts_;  // [B+1], not cumulative; last is (bound B-1, +Inf)
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
  // Ring buffer: grows to window_capacity_, then next_ marks the oldest entry, overwritten next.
  std::vector<double> recent_;
  std::size_t next_ = 0;
};

}  // namespace llmserve::metrics
