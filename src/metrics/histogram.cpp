#include "llmserve/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "llmserve/common/error.h"

namespace llmserve::metrics {
namespace {

std::vector<double> checked_upper_bounds(std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      throw Error("histogram bucket bound {} is {}; bounds must be finite (+Inf is implicit)", i,
                  bounds[i]);
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      throw Error("histogram bucket bounds must be strictly increasing: bound {} is {} after {}", i,
                  bounds[i], bounds[i - 1]);
    }
  }
  return bounds;
}

void check_quantile(double q) {
  if (!(q >= 0.0 && q <= 1.0)) throw Error("quantile {} is outside [0, 1]", q);
}

// Between ranks holding the same value, or exactly on a rank, the value itself: interpolating
// would turn two +Inf observations into NaN (inf - inf).
double between_ranks(double lower, double upper, double fraction) {
  if (fraction == 0.0 || lower == upper) return lower;
  return lower + fraction * (upper - lower);
}

// Linear interpolation between closest ranks on a sorted range (the contract in the header).
double interpolate_sorted(const std::vector<double>& sorted, double q) {
  const double h = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return between_ranks(sorted[lo], sorted[lo + 1], h - static_cast<double>(lo));
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds, std::size_t window)
    : upper_bounds_(checked_upper_bounds(std::move(upper_bounds))),
      window_capacity_(window),
      bucket_counts_(upper_bounds_.size() + 1, 0) {
  if (window == 0) throw Error("a histogram's quantile window must hold at least 1 observation");
}

std::vector<double> Histogram::exponential_buckets(double start, double factor, std::size_t count) {
  if (!(start > 0.0) || !(factor > 1.0) || count == 0) {
    throw Error("exponential_buckets needs start > 0, factor > 1 and count >= 1 (got {}, {}, {})",
                start, factor, count);
  }
  std::vector<double> bounds;
  bounds.reserve(count);
  double bound = start;
  for (std::size_t i = 0; i < count; ++i, bound *= factor) {
    if (!std::isfinite(bound)) {
      throw Error("exponential_buckets({}, {}, {}) overflows at bound {}", start, factor, count, i);
    }
    bounds.push_back(bound);
  }
  return bounds;
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  // Buckets are inclusive above (`le`): the first bound >= value; past the last bound, +Inf.
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  std::lock_guard lock(mutex_);
  ++bucket_counts_[bucket];
  sum_ += value;
  ++count_;
  if (recent_.size() < window_capacity_) {
    recent_.push_back(value);
  } else {
    recent_[next_] = value;
    next_ = next_ + 1 == window_capacity_ ? 0 : next_ + 1;
  }
}

std::uint64_t Histogram::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

double Histogram::sum() const {
  std::lock_guard lock(mutex_);
  return sum_;
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  snapshot.cumulative_counts.resize(bucket_counts_.size());
  std::lock_guard lock(mutex_);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < bucket_counts_.size(); ++i) {
    running += bucket_counts_[i];
    snapshot.cumulative_counts[i] = running;
  }
  snapshot.sum = sum_;
  snapshot.count = count_;
  return snapshot;
}

std::size_t Histogram::window_count() const {
  std::lock_guard lock(mutex_);
  return recent_.size();
}

std::optional<double> Histogram::quantile(double q) const {
  check_quantile(q);
  std::vector<double> values;
  {
    std::lock_guard lock(mutex_);
    values = recent_;
  }
  if (values.empty()) return std::nullopt;
  // Two selections instead of a sort: O(window) for the one or two ranks interpolated.
  const double h = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double lower = values[lo];
  if (lo + 1 >= values.size()) return lower;
  const double upper =
      *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1, values.end());
  return between_ranks(lower, upper, h - static_cast<double>(lo));
}

std::optional<double> Histogram::mean() const {
  std::lock_guard lock(mutex_);
  if (recent_.empty()) return std::nullopt;
  double total = 0.0;
  for (double value : recent_) total += value;
  return total / static_cast<double>(recent_.size());
}

std::optional<WindowSummary> Histogram::summarize(std::span<const double> qs) const {
  for (double q : qs) check_quantile(q);
  std::vector<double> values;
  {
    std::lock_guard lock(mutex_);
    values = recent_;
  }
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  WindowSummary summary;
  summary.count = values.size();
  double total = 0.0;
  for (double value : values) total += value;
  summary.mean = total / static_cast<double>(values.size());
  summary.quantiles.reserve(qs.size());
  for (double q : qs) summary.quantiles.push_back(interpolate_sorted(values, q));
  return summary;
}

}  // namespace llmserve::metrics
