#include "llmserve/metrics/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <utility>

#include "llmserve/common/error.h"
#include "text_format.h"

namespace llmserve::metrics {
namespace {

// The sample names a histogram family writes beside its own name.
constexpr std::array<std::string_view, 3> kHistogramSuffixes = {"_bucket", "_sum", "_count"};

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Labels sorted by key, so that {a, b} and {b, a} name the same member; throws on an invalid,
// reserved or repeated key.
Labels canonical_labels(std::string_view metric, MetricType type, const Labels& labels) {
  Labels sorted = labels;
  std::sort(sorted.begin(), sorted.end(),
            [](const Label& a, const Label& b) { return a.key < b.key; });
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const std::string& key = sorted[i].key;
    if (!is_valid_label_name(key)) {
      throw Error("metric {}: invalid label name '{}' (must match [a-zA-Z_][a-zA-Z0-9_]*)", metric,
                  key);
    }
    if (key.starts_with("__")) {
      throw Error("metric {}: label name '{}' is reserved (starts with __)", metric, key);
    }
    if (type == MetricType::kHistogram && key == "le") {
      throw Error("histogram {}: label name 'le' is reserved for bucket bounds", metric);
    }
    if (i > 0 && sorted[i - 1].key == key) {
      throw Error("metric {}: label '{}' given twice", metric, key);
    }
  }
  return sorted;
}

// Length-prefixed values: unambiguous whatever bytes a value holds.
std::string member_key(const Labels& sorted) {
  std::string key;
  for (const Label& label : sorted)
    fmt::format_to(std::back_inserter(key), "{}:{}", label.value.size(), label.value);
  return key;
}

std::vector<std::string> label_keys(const Labels& sorted) {
  std::vector<std::string> keys;
  keys.reserve(sorted.size());
  for (const Label& label : sorted) keys.push_back(label.key);
  return keys;
}

// `k="v",k2="v2"`, without braces, so a histogram can append its le label.
std::string render_labels(const Labels& sorted) {
  std::string out;
  for (const Label& label : sorted) {
    if (!out.empty()) out += ',';
    fmt::format_to(std::back_inserter(out), "{}=\"{}\"", label.key,
                   escape_label_value(label.value));
  }
  return out;
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, std::string_view value) {
  if (labels.empty()) {
    fmt::format_to(std::back_inserter(out), "{}{} {}\n", name, suffix, value);
  } else {
    fmt::format_to(std::back_inserter(out), "{}{}{{{}}} {}\n", name, suffix, labels, value);
  }
}

}  // namespace

struct Registry::Member {
  Labels labels;  // sorted by key
  // Exactly one is set, the one of the family's type.
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
};

struct Registry::Family {
  std::string name;
  std::string help;
  MetricType type;
  std::vector<std::string> label_keys;           // sorted; the same for every member
  std::vector<double> upper_bounds;              // histograms: the same for every member
  std::vector<std::unique_ptr<Member>> members;  // registration order
  std::unordered_map<std::string, Member*> members_by_key;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Member& Registry::find_or_add(std::string_view name, std::string_view help,
                                        MetricType type, const Labels& labels,
                                        const std::vector<double>* upper_bounds) {
  if (!is_valid_metric_name(name)) {
    throw Error("invalid metric name '{}' (must match [a-zA-Z_:][a-zA-Z0-9_:]*)", name);
  }
  Labels sorted = canonical_labels(name, type, labels);

  Family* family = nullptr;
  if (auto it = families_by_name_.find(std::string(name)); it != families_by_name_.end()) {
    family = it->second;
    if (family->type != type) {
      throw Error("metric {} is registered as a {}, not a {}", name, type_name(family->type),
                  type_name(type));
    }
  } else {
    // A new family must not collide with the sample names of a histogram, either way round.
    for (std::string_view suffix : kHistogramSuffixes) {
      if (name.ends_with(suffix)) {
        const std::string base(name.substr(0, name.size() - suffix.size()));
        auto base_it = families_by_name_.find(base);
        if (base_it != families_by_name_.end() && base_it->second->type == MetricType::kHistogram) {
          throw Error("metric name {} is taken by the samples of histogram {}", name, base);
        }
      }
      if (type == MetricType::kHistogram &&
          families_by_name_.contains(fmt::format("{}{}", name, suffix))) {
        throw Error("histogram {} would write samples {}{}, already a metric", name, name, suffix);
      }
    }
    auto created = std::make_unique<Family>();
    created->name = std::string(name);
    created->help = std::string(help);
    created->type = type;
    created->label_keys = label_keys(sorted);
    if (upper_bounds != nullptr) created->upper_bounds = *upper_bounds;
    family = created.get();
    families_.push_back(std::move(created));
    families_by_name_.emplace(family->name, family);
  }

  if (label_keys(sorted) != family->label_keys) {
    throw Error("metric {}: label names [{}] differ from the family's [{}]", name,
                fmt::join(label_keys(sorted), ", "), fmt::join(family->label_keys, ", "));
  }
  if (upper_bounds != nullptr && *upper_bounds != family->upper_bounds) {
    throw Error("histogram {}: bucket bounds differ from the family's", name);
  }

  std::string key = member_key(sorted);
  if (auto it = family->members_by_key.find(key); it != family->members_by_key.end()) {
    return *it->second;
  }
  auto member = std::make_unique<Member>();
  member->labels = std::move(sorted);
  Member& ref = *member;
  family->members.push_back(std::move(member));
  family->members_by_key.emplace(std::move(key), &ref);
  return ref;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Member& member = find_or_add(name, help, MetricType::kCounter, labels, nullptr);
  if (!member.counter) member.counter = std::make_unique<Counter>();
  return *member.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Member& member = find_or_add(name, help, MetricType::kGauge, labels, nullptr);
  if (!member.gauge) member.gauge = std::make_unique<Gauge>();
  return *member.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> upper_bounds, const Labels& labels,
                               std::size_t window) {
  // Built first so that its constructor checks and normalizes the bounds (a trailing +Inf is
  // dropped) before they are compared with the family's; discarded when the member exists.
  auto candidate = std::make_unique<Histogram>(std::move(upper_bounds), window);
  std::lock_guard lock(mutex_);
  Member& member =
      find_or_add(name, help, MetricType::kHistogram, labels, &candidate->upper_bounds());
  if (!member.histogram) member.histogram = std::move(candidate);
  return *member.histogram;
}

std::string Registry::prometheus_text() const {
  std::lock_guard lock(mutex_);
  std::string out;
  auto it = std::back_inserter(out);
  for (const auto& family : families_) {
    const std::string& name = family->name;
    if (family->help.empty()) {
      fmt::format_to(it, "# HELP {}\n", name);
    } else {
      fmt::format_to(it, "# HELP {} {}\n", name, escape_help(family->help));
    }
    fmt::format_to(it, "# TYPE {} {}\n", name, type_name(family->type));
    for (const auto& member : family->members) {
      const std::string labels = render_labels(member->labels);
      switch (family->type) {
        case MetricType::kCounter:
          append_sample(out, name, "", labels, format_value(member->counter->value()));
          break;
        case MetricType::kGauge:
          append_sample(out, name, "", labels, format_value(member->gauge->value()));
          break;
        case MetricType::kHistogram: {
          // One snapshot per member, so the +Inf bucket always equals _count.
          const HistogramSnapshot snapshot = member->histogram->snapshot();
          const std::string prefix = labels.empty() ? "" : labels + ",";
          for (std::size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
            const std::string le = i < snapshot.upper_bounds.size()
                                       ? format_value(snapshot.upper_bounds[i])
                                       : std::string("+Inf");
            append_sample(out, name, "_bucket", fmt::format("{}le=\"{}\"", prefix, le),
                          fmt::format("{}", snapshot.cumulative_counts[i]));
          }
          append_sample(out, name, "_sum", labels, format_value(snapshot.sum));
          append_sample(out, name, "_count", labels, fmt::format("{}", snapshot.count));
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace llmserve::metrics
