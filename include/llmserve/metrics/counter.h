#pragma once
// A Prometheus counter: a total that only goes up (requests finished, tokens generated). Values
// are doubles because the exposition format is; integers stay exact up to 2^53. Any thread may
// call any method; each is one relaxed atomic operation, no lock, so inc() is fine per token.
#include <atomic>

namespace llmserve::metrics {

class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `by`. A negative or NaN `by` is ignored: a counter that went down would read as a
  // process restart to Prometheus' rate(), which is worse than one lost update.
  void inc(double by = 1.0) {
    if (by >= 0.0) value_.fetch_add(by, std::memory_order_relaxed);
  }

  // For a counter that mirrors another component's own monotonic total (say the engine's
  // preemption count, copied each step) instead of adding deltas. The source total must never
  // decrease; a value below the current one (or NaN) is ignored for the reason given at inc().
  // Feed one counter through either inc() or set_total(), never both.
  void set_total(double total) {
    double current = value_.load(std::memory_order_relaxed);
    while (total > current &&
           !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
    }
  }

  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace llmserve::metrics
