#pragma once
// Owns every metric of the process by name and renders them in the Prometheus text exposition
// format 0.0.4 (what GET /metrics answers).
//
// A family is one metric name with one type and one HELP text; its members differ by label
// values (llmserve_request_success_total{finish_reason="stop"} and {finish_reason="length"}).
// Rules, each a llmserve::Error when broken:
//   - metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and do not
//     start with "__" (reserved by Prometheus); a histogram may not use the label "le";
//   - a name keeps the type it was first registered with, and every member of a family has the
//     same label names (label order does not matter), histograms the same bucket bounds;
//   - a histogram `h` reserves the sample names h_bucket, h_sum and h_count, so no other family
//     may take them.
// Asking again for a name and label set already registered returns the same object (the first
// HELP text stays). Returned references stay valid as long as the registry.
//
// Thread-safe: registration and prometheus_text() take one mutex; updating a metric takes none
// of the registry's. Registration validates and looks up names, so hot paths keep the reference
// instead of asking again (a per-request lookup for a dynamic label value is fine).
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmserve/metrics/counter.h"
#include "llmserve/metrics/gauge.h"
#include "llmserve/metrics/histogram.h"

namespace llmserve::metrics {

// Label values may hold any UTF-8 text; the renderer escapes backslash, double quote, newline.
struct Label {
  std::string key;
  std::string value;
};
using Labels = std::vector<Label>;

enum class MetricType { kCounter, kGauge, kHistogram };

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  // `upper_bounds` and `window` as for Histogram's constructor.
  Histogram& histogram(std::string_view name, std::string_view help,
                       std::vector<double> upper_bounds, const Labels& labels = {},
                       std::size_t window = Histogram::kDefaultWindow);

  // Families in registration order, each as # HELP, # TYPE, then its members in registration
  // order. Integral values print as integers, other finite values in the shortest form that
  // parses back to the same double, infinities as +Inf / -Inf and NaN as NaN. Empty when
  // nothing is registered; otherwise every line, the last included, ends in '\n'.
  std::string prometheus_text() const;

 private:
  struct Family;
  struct Member;

  // Finds or creates the member (name, labels) of a family of `type`, after every check above;
  // a new member has no metric yet and the caller creates it. `upper_bounds` (already checked)
  // only for histograms. Requires mutex_ held.
  Member& find_or_add(std::string_view name, std::string_view help, MetricType type,
                      const Labels& labels, const std::vector<double>* upper_bounds);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family>> families_;  // registration order
  std::unordered_map<std::string, Family*> families_by_name_;
};

}  // namespace llmserve::metrics
