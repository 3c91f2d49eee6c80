#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <latch>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "llmserve/common/error.h"
#include "llmserve/metrics/counter.h"
#include "llmserve/metrics/gauge.h"
#include "llmserve/metrics/histogram.h"
#include "llmserve/metrics/registry.h"

namespace llmserve::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kThreads = 4;
constexpr int kPerThread = 100000;

// Runs fn(thread_index) on kThreads threads released together, so that their updates overlap
// (started one by one, an early thread could finish before the last one begins).
template <typename Fn>
void run_threads(Fn fn) {
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      fn(t);
    });
  }
  for (auto& thread : threads) thread.join();
}

// ---------------------------------------------------------------------------------------------
// A strict parser of the text exposition format 0.0.4, restricted to what the registry may
// write: every line is a HELP, a TYPE or a sample; HELP then TYPE open each family exactly once;
// samples follow their family's TYPE; no timestamps, no blank lines, no other comments.
// Histograms are checked for cumulative buckets ending in le="+Inf" == _count.

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0.0;
};

struct Family {
  std::string name;
  std::string help;
  std::string type;
  std::vector<Sample> samples;
};

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(std::size_t line_no, const std::string& what, const std::string& line) {
  throw ParseError("line " + std::to_string(line_no) + ": " + what + ": '" + line + "'");
}

bool is_name_char(char c, bool allow_colon) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (allow_colon && c == ':');
}

// Reads [a-zA-Z_:][a-zA-Z0-9_:]* (or the label-name form without ':') at `pos`.
std::string read_name(const std::string& line, std::size_t& pos, bool allow_colon) {
  const std::size_t start = pos;
  while (pos < line.size() && static_cast<unsigned char>(line[pos]) < 0x80 &&
         is_name_char(line[pos], allow_colon)) {
    ++pos;
  }
  std::string name = line.substr(start, pos - start);
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return {};
  return name;
}

double parse_value(const std::string& text, std::size_t line_no, const std::string& line) {
  if (text == "+Inf") return kInf;
  if (text == "-Inf") return -kInf;
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? : what the registry writes, nothing looser.
  std::size_t pos = 0;
  auto digits = [&] {
    const std::size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    return pos - start;
  };
  if (pos < text.size() && text[pos] == '-') ++pos;
  const std::size_t int_start = pos;
  const std::size_t int_digits = digits();
  bool ok = int_digits > 0 && (int_digits == 1 || text[int_start] != '0');
  if (ok && pos < text.size() && text[pos] == '.') {
    ++pos;
    ok = digits() > 0;
  }
  if (ok && pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    ok = digits() > 0;
  }
  if (!ok || pos != text.size()) fail(line_no, "bad value '" + text + "'", line);
  return std::strtod(text.c_str(), nullptr);
}

void check_histogram(const Family& family) {
  // Group by the labels other than le; each group: buckets, then _sum and _count.
  struct Group {
    std::vector<std::pair<double, double>> buckets;  // (le, cumulative count) in text order
    std::optional<double> sum, count;
  };
  std::map<std::map<std::string, std::string>, Group> groups;
  for (const Sample& sample : family.samples) {
    auto labels = sample.labels;
    if (sample.name == family.name + "_bucket") {
      auto le = labels.find("le");
      if (le == labels.end()) throw ParseError(family.name + ": bucket without le");
      const double bound = le->second == "+Inf" ? kInf : std::strtod(le->second.c_str(), nullptr);
      labels.erase(le);
      groups[labels].buckets.emplace_back(bound, sample.value);
    } else if (sample.name == family.name + "_sum") {
      if (labels.contains("le")) throw ParseError(family.name + ": le on _sum");
      groups[labels].sum = sample.value;
    } else if (sample.name == family.name + "_count") {
      if (labels.contains("le")) throw ParseError(family.name + ": le on _count");
      groups[labels].count = sample.value;
    } else {
      throw ParseError(family.name + ": histogram sample " + sample.name);
    }
  }
  for (const auto& [labels, group] : groups) {
    if (group.buckets.empty() || !group.sum || !group.count) {
      throw ParseError(family.name + ": histogram needs buckets, _sum and _count");
    }
    for (std::size_t i = 0; i < group.buckets.size(); ++i) {
      const auto [le, cumulative] = group.buckets[i];
      if (cumulative != std::floor(cumulative) || cumulative < 0) {
        throw ParseError(family.name + ": bucket count not a natural number");
      }
      if (i > 0 && !(group.buckets[i - 1].first < le)) {
        throw ParseError(family.name + ": le not increasing");
      }
      if (i > 0 && group.buckets[i - 1].second > cumulative) {
        throw ParseError(family.name + ": buckets not cumulative");
      }
    }
    if (group.buckets.back().first != kInf) throw ParseError(family.name + ": no +Inf bucket");
    if (group.buckets.back().second != *group.count) {
      throw ParseError(family.name + ": +Inf bucket differs from _count");
    }
  }
}

std::vector<Family> parse_exposition(const std::string& text) {
  std::vector<Family> families;
  if (text.empty()) return families;
  if (text.back() != '\n') throw ParseError("text does not end in a newline");
  std::map<std::string, bool> seen;
  std::map<std::pair<std::string, std::map<std::string, std::string>>, bool> seen_samples;
  bool expect_type = false;
  std::size_t line_no = 0;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = text.find('\n', begin);
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_no;
    if (line.empty()) fail(line_no, "blank line", line);

    if (line.starts_with("# HELP ")) {
      if (expect_type) fail(line_no, "HELP where TYPE was due", line);
      std::size_t pos = 7;
      Family family;
      family.name = read_name(line, pos, true);
      if (family.name.empty()) fail(line_no, "bad metric name", line);
      if (seen[family.name]) fail(line_no, "HELP twice for a family", line);
      seen[family.name] = true;
      if (pos < line.size()) {
        if (line[pos] != ' ') fail(line_no, "no space after the name", line);
        for (++pos; pos < line.size(); ++pos) {
          if (line[pos] != '\\') {
            family.help += line[pos];
            continue;
          }
          if (++pos == line.size()) fail(line_no, "dangling backslash", line);
          if (line[pos] == '\\') {
            family.help += '\\';
          } else if (line[pos] == 'n') {
            family.help += '\n';
          } else {
            fail(line_no, "bad escape in HELP", line);
          }
        }
      }
      families.push_back(std::move(family));
      expect_type = true;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      if (!expect_type) fail(line_no, "TYPE without a HELP just before", line);
      std::size_t pos = 7;
      if (read_name(line, pos, true) != families.back().name) {
        fail(line_no, "TYPE names another family", line);
      }
      const std::string type = pos < line.size() && line[pos] == ' ' ? line.substr(pos + 1) : "";
      if (type != "counter" && type != "gauge" && type != "histogram") {
        fail(line_no, "bad TYPE", line);
      }
      families.back().type = type;
      expect_type = false;
      continue;
    }
    if (line[0] == '#') fail(line_no, "unexpected comment", line);

    if (families.empty() || expect_type) fail(line_no, "sample before HELP and TYPE", line);
    Family& family = families.back();
    std::size_t pos = 0;
    Sample sample;
    sample.name = read_name(line, pos, true);
    if (sample.name.empty()) fail(line_no, "bad sample name", line);
    const bool belongs = family.type == "histogram" ? (sample.name == family.name + "_bucket" ||
                                                       sample.name == family.name + "_sum" ||
                                                       sample.name == family.name + "_count")
                                                    : sample.name == family.name;
    if (!belongs) fail(line_no, "sample outside its family", line);
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (true) {
        const std::string key = read_name(line, pos, false);
        if (key.empty()) fail(line_no, "bad label name", line);
        if (pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') {
          fail(line_no, "label without =\"", line);
        }
        pos += 2;
        std::string value;
        while (true) {
          if (pos >= line.size()) fail(line_no, "unterminated label value", line);
          const char c = line[pos++];
          if (c == '"') break;
          if (c != '\\') {
            value += c;
            continue;
          }
          if (pos >= line.size()) fail(line_no, "dangling backslash", line);
          const char e = line[pos++];
          if (e == '\\') {
            value += '\\';
          } else if (e == '"') {
            value += '"';
          } else if (e == 'n') {
            value += '\n';
          } else {
            fail(line_no, "bad escape in label value", line);
          }
        }
        if (!sample.labels.emplace(key, value).second) fail(line_no, "label twice", line);
        if (pos < line.size() && line[pos] == ',') {
          ++pos;
          continue;
        }
        if (pos < line.size() && line[pos] == '}') {
          ++pos;
          break;
        }
        fail(line_no, "expected , or } after a label", line);
      }
    }
    if (pos >= line.size() || line[pos] != ' ') fail(line_no, "no single space before value", line);
    sample.value = parse_value(line.substr(pos + 1), line_no, line);
    if (family.type == "counter" && !(sample.value >= 0)) fail(line_no, "negative counter", line);
    if (!seen_samples.emplace(std::pair(sample.name, sample.labels), true).second) {
      fail(line_no, "duplicate sample", line);
    }
    family.samples.push_back(std::move(sample));
  }
  if (expect_type) throw ParseError("text ends after a HELP");
  for (const Family& family : families) {
    if (family.samples.empty()) throw ParseError(family.name + ": family without samples");
    if (family.type == "histogram") check_histogram(family);
  }
  return families;
}

const Family& find_family(const std::vector<Family>& families, const std::string& name) {
  for (const Family& family : families) {
    if (family.name == name) return family;
  }
  throw std::runtime_error("no family " + name);
}

std::optional<double> find_value(const Family& family, const std::string& name,
                                 const std::map<std::string, std::string>& labels) {
  for (const Sample& sample : family.samples) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Counter and Gauge

// A lost update needs two threads between one load and its store; on a machine with few cores
// that is rare per round, so each scenario runs several rounds to make a racy metric fail.
constexpr int kRounds = 5;

TEST(Counter, ConcurrentIncrementsAreExact) {
  for (int round = 0; round < kRounds; ++round) {
    Counter counter;
    run_threads([&](int) {
      for (int i = 0; i < kPerThread; ++i) counter.inc();
    });
    ASSERT_EQ(counter.value(), double{kThreads} * kPerThread) << "round " << round;
    Counter halves;
    run_threads([&](int) {
      // 0.5 is exact in binary, so the total is exact whatever the order of the additions.
      for (int i = 0; i < kPerThread; ++i) halves.inc(0.5);
    });
    ASSERT_EQ(halves.value(), double{kThreads} * kPerThread / 2) << "round " << round;
  }
}

TEST(Counter, NeverDecreases) {
  Counter counter;
  counter.inc(3);
  counter.inc(-1);
  counter.inc(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(counter.value(), 3);

  Counter mirrored;
  mirrored.set_total(10);
  mirrored.set_total(7);  // a smaller total would read as a restart: ignored
  mirrored.set_total(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(mirrored.value(), 10);
  mirrored.set_total(12);
  EXPECT_EQ(mirrored.value(), 12);
}

TEST(Counter, ConcurrentSetTotalKeepsTheMaximum) {
  Counter counter;
  run_threads([&](int t) {
    for (int i = 0; i < kPerThread; ++i) counter.set_total(i * kThreads + t);
  });
  EXPECT_EQ(counter.value(), double{kPerThread - 1} * kThreads + (kThreads - 1));
}

TEST(Gauge, ConcurrentUpdatesAreExact) {
  for (int round = 0; round < kRounds; ++round) {
    Gauge up;
    run_threads([&](int) {
      for (int i = 0; i < kPerThread; ++i) up.inc();
    });
    ASSERT_EQ(up.value(), double{kThreads} * kPerThread) << "round " << round;
    Gauge mixed;
    run_threads([&](int) {
      for (int i = 0; i < kPerThread; ++i) {
        mixed.inc(3);
        mixed.dec();
      }
    });
    ASSERT_EQ(mixed.value(), 2.0 * kThreads * kPerThread) << "round " << round;
  }
  Gauge gauge;
  gauge.set(-0.25);
  EXPECT_EQ(gauge.value(), -0.25);
}

// ---------------------------------------------------------------------------------------------
// Histogram

TEST(Histogram, ExponentialBuckets) {
  EXPECT_EQ(Histogram::exponential_buckets(0.5, 2, 4), (std::vector<double>{0.5, 1, 2, 4}));
  EXPECT_THROW(Histogram::exponential_buckets(0, 2, 4), Error);
  EXPECT_THROW(Histogram::exponential_buckets(1, 1, 4), Error);
  EXPECT_THROW(Histogram::exponential_buckets(1, 2, 0), Error);
  EXPECT_THROW(Histogram::exponential_buckets(1, 1e300, 3), Error);  // overflows to +Inf
}

TEST(Histogram, RejectsBadBounds) {
  EXPECT_THROW(Histogram({1, 3, 2}), Error);
  EXPECT_THROW(Histogram({1, 1}), Error);
  EXPECT_THROW(Histogram({std::numeric_limits<double>::quiet_NaN()}), Error);
  EXPECT_THROW(Histogram({-kInf, 1}), Error);
  EXPECT_THROW(Histogram({1, 2}, 0), Error);
  EXPECT_EQ(Histogram({1, 2, kInf}).upper_bounds(), (std::vector<double>{1, 2}));
  Histogram only_inf({});
  only_inf.observe(5);
  EXPECT_EQ(only_inf.snapshot().cumulative_counts, (std::vector<std::uint64_t>{1}));
}

TEST(Histogram, BucketsMatchAnIndependentCount) {
  const std::vector<double> bounds = Histogram::exponential_buckets(0.001, 2, 15);
  Histogram histogram(bounds, 100);
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(-3.0, 2.0);
  std::vector<double> values;
  for (int i = 0; i < 50000; ++i) values.push_back(latency(rng));
  // Values exactly on a bound belong to it (le is inclusive); below the first and past the last.
  for (double bound : bounds) values.push_back(bound);
  values.insert(values.end(), {0.0, -1.0, 1e9, kInf});
  std::shuffle(values.begin(), values.end(), rng);
  values.push_back(std::numeric_limits<double>::quiet_NaN());  // ignored

  double sum = 0.0;
  for (double value : values) {
    histogram.observe(value);
    if (!std::isnan(value)) sum += value;
  }
  const HistogramSnapshot snapshot = histogram.snapshot();
  ASSERT_EQ(snapshot.cumulative_counts.size(), bounds.size() + 1);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    const auto expected =
        std::count_if(values.begin(), values.end(), [&](double v) { return v <= bounds[i]; });
    EXPECT_EQ(snapshot.cumulative_counts[i], static_cast<std::uint64_t>(expected)) << bounds[i];
  }
  EXPECT_EQ(snapshot.count, values.size() - 1);
  EXPECT_EQ(snapshot.cumulative_counts.back(), snapshot.count);
  EXPECT_EQ(histogram.count(), snapshot.count);
  EXPECT_EQ(snapshot.sum, sum);  // inf: the +Inf observation
  EXPECT_EQ(histogram.window_count(), 100u);
}

TEST(Histogram, ConcurrentObservationsAreAllCounted) {
  Histogram histogram({1, 2, 3});
  run_threads([&](int t) {
    for (int i = 0; i < kPerThread; ++i) histogram.observe(t);  // t-th bucket, t = 3 in le=3
  });
  const HistogramSnapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.count, std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(
      snapshot.cumulative_counts,
      (std::vector<std::uint64_t>{2 * kPerThread, 3 * kPerThread, 4 * kPerThread, 4 * kPerThread}));
  EXPECT_EQ(snapshot.sum, double{kPerThread} * (0 + 1 + 2 + 3));
  EXPECT_EQ(histogram.window_count(), Histogram::kDefaultWindow);
}

TEST(Histogram, QuantilesInterpolateBetweenRanks) {
  Histogram histogram({1}, 4);
  EXPECT_EQ(histogram.quantile(0.5), std::nullopt);
  EXPECT_EQ(histogram.mean(), std::nullopt);
  EXPECT_EQ(histogram.summarize(std::vector<double>{0.5}), std::nullopt);
  for (double v : {100.0, 200.0, 4.0, 2.0, 3.0, 1.0}) histogram.observe(v);  // keeps 4, 2, 3, 1
  EXPECT_EQ(histogram.quantile(0), 1);
  EXPECT_EQ(histogram.quantile(0.5), 2.5);
  EXPECT_EQ(histogram.quantile(1.0 / 3), 2);
  EXPECT_EQ(histogram.quantile(0.75), 3.25);
  EXPECT_EQ(histogram.quantile(1), 4);
  EXPECT_EQ(histogram.mean(), 2.5);
  EXPECT_EQ(histogram.count(), 6u);  // the Prometheus view keeps everything
  EXPECT_THROW(histogram.quantile(-0.1), Error);
  EXPECT_THROW(histogram.quantile(1.1), Error);
  EXPECT_THROW(histogram.quantile(std::numeric_limits<double>::quiet_NaN()), Error);

  Histogram infinite({1}, 3);
  for (int i = 0; i < 3; ++i) infinite.observe(kInf);
  EXPECT_EQ(infinite.quantile(0.5), kInf);  // not inf - inf = NaN
}

// Type 7 of Hyndman & Fan, written from its definition on a sorted copy.
double reference_quantile(std::vector<double> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  const double h = (static_cast<double>(sorted.size()) - 1) * q;
  const double below = sorted[static_cast<std::size_t>(std::floor(h))];
  const double above = sorted[static_cast<std::size_t>(std::ceil(h))];
  return below + (h - std::floor(h)) * (above - below);
}

TEST(Histogram, QuantilesMatchASortedReferenceOverTheWindow) {
  const std::vector<double> qs = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0};
  std::mt19937_64 rng(7);
  for (std::size_t window : {1u, 2u, 997u, 1000u}) {
    Histogram histogram(Histogram::exponential_buckets(0.01, 2, 10), window);
    std::vector<double> all;
    // Early values are large so that any of them left in the window would show at the top.
    std::uniform_real_distribution<double> early(1000.0, 2000.0);
    std::uniform_int_distribution<int> small(0, 50);  // repeated values exercise equal ranks
    std::exponential_distribution<double> late(3.0);
    for (int i = 0; i < 4000; ++i) {
      const double value = i < 1500 ? early(rng) : (i % 3 == 0 ? small(rng) : late(rng));
      histogram.observe(value);
      all.push_back(value);
    }
    const std::vector<double> recent(all.end() - static_cast<std::ptrdiff_t>(window), all.end());
    double mean = 0.0;
    for (double value : recent) mean += value;
    mean /= static_cast<double>(window);

    const auto summary = histogram.summarize(qs);
    ASSERT_TRUE(summary.has_value());
    EXPECT_EQ(summary->count, window);
    EXPECT_NEAR(summary->mean, mean, 1e-12 * std::abs(mean));
    EXPECT_NEAR(*histogram.mean(), mean, 1e-12 * std::abs(mean));
    ASSERT_EQ(summary->quantiles.size(), qs.size());
    for (std::size_t i = 0; i < qs.size(); ++i) {
      const double expected = reference_quantile(recent, qs[i]);
      EXPECT_DOUBLE_EQ(*histogram.quantile(qs[i]), expected)
          << "window " << window << " q " << qs[i];
      EXPECT_DOUBLE_EQ(summary->quantiles[i], expected) << "window " << window << " q " << qs[i];
    }
    EXPECT_LT(*histogram.quantile(1), 1000.0);  // the early values were all evicted
    EXPECT_EQ(histogram.count(), all.size());
  }
}

// ---------------------------------------------------------------------------------------------
// Registry

TEST(Registry, SameNameAndLabelsIsTheSameObject) {
  Registry registry;
  Counter& stop = registry.counter("requests_total", "Requests.", {{"reason", "stop"}, {"x", "1"}});
  EXPECT_EQ(&registry.counter("requests_total", "Other help.", {{"x", "1"}, {"reason", "stop"}}),
            &stop);
  Counter& length = registry.counter("requests_total", "", {{"reason", "length"}, {"x", "1"}});
  EXPECT_NE(&length, &stop);
  Gauge& gauge = registry.gauge("g", "");
  EXPECT_EQ(&registry.gauge("g", ""), &gauge);
  Histogram& histogram = registry.histogram("h", "", {1, 2}, {{"a", "b"}});
  EXPECT_EQ(&registry.histogram("h", "", {1, 2, kInf}, {{"a", "b"}}), &histogram);
  // Many registrations later (storage grows) the first references still work.
  for (int i = 0; i < 1000; ++i)
    registry.counter("requests_total", "", {{"reason", std::to_string(i)}, {"x", "1"}});
  stop.inc(2);
  EXPECT_EQ(registry.counter("requests_total", "", {{"reason", "stop"}, {"x", "1"}}).value(), 2);
}

TEST(Registry, ConcurrentRegistrationAndUpdates) {
  Registry registry;
  run_threads([&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      const char* reason = i % 2 == 0 ? "stop" : "length";
      registry.counter("finished_total", "", {{"finish_reason", reason}}).inc();
      if (i % 1000 == 0) registry.histogram("latency_seconds", "", {0.1, 1}).observe(t);
      if (i % 10000 == 0) (void)registry.prometheus_text();  // a scrape while others update
    }
  });
  EXPECT_EQ(registry.counter("finished_total", "", {{"finish_reason", "stop"}}).value(),
            double{kThreads} * kPerThread / 2);
  EXPECT_EQ(registry.counter("finished_total", "", {{"finish_reason", "length"}}).value(),
            double{kThreads} * kPerThread / 2);
  EXPECT_EQ(registry.histogram("latency_seconds", "", {0.1, 1}).count(),
            std::uint64_t{kThreads} * kPerThread / 1000);
}

TEST(Registry, TypeClashThrows) {
  Registry registry;
  registry.counter("x_total", "");
  EXPECT_THROW(registry.gauge("x_total", ""), Error);
  EXPECT_THROW(registry.histogram("x_total", "", {1}), Error);
  registry.histogram("latency", "", {1, 2});
  EXPECT_THROW(registry.counter("latency", ""), Error);
  // A histogram's sample names are taken, either way round.
  EXPECT_THROW(registry.counter("latency_count", ""), Error);
  EXPECT_THROW(registry.gauge("latency_sum", ""), Error);
  EXPECT_THROW(registry.gauge("latency_bucket", ""), Error);
  registry.gauge("queue_sum", "");
  EXPECT_THROW(registry.histogram("queue", "", {1}), Error);
  // Within a family: the same label names, and for histograms the same bounds.
  registry.counter("y_total", "", {{"a", "1"}});
  EXPECT_THROW(registry.counter("y_total", "", {{"b", "1"}}), Error);
  EXPECT_THROW(registry.counter("y_total", ""), Error);
  EXPECT_THROW(registry.counter("y_total", "", {{"a", "1"}, {"b", "2"}}), Error);
  EXPECT_THROW(registry.histogram("latency", "", {1, 3}), Error);
  // Nothing above registered anything by accident.
  const auto families = parse_exposition(registry.prometheus_text());
  EXPECT_EQ(families.size(), 4u);
}

TEST(Registry, InvalidNamesAreRejected) {
  Registry registry;
  for (const char* name : {"", "1abc", "a-b", "a b", "caf\xc3\xa9", "a{b}", "a\"b"}) {
    EXPECT_THROW(registry.counter(name, ""), Error) << name;
  }
  for (const char* key : {"", "1x", "a:b", "a-b", "__reserved", "caf\xc3\xa9"}) {
    EXPECT_THROW(registry.gauge("valid_gauge", "", {{key, "v"}}), Error) << key;
  }
  EXPECT_THROW(registry.histogram("h", "", {1}, {{"le", "1"}}), Error);
  EXPECT_THROW(registry.gauge("dup", "", {{"a", "1"}, {"a", "2"}}), Error);
  EXPECT_THROW(registry.histogram("bad_bounds", "", {2, 1}), Error);
  EXPECT_EQ(registry.prometheus_text(), "");
  // The edges of the grammar that are legal.
  registry.counter("_:a1:_b", "");
  registry.gauge("Z9", "",
                 {{"_x", "1"}, {"le", "2"}, {"A_1", "3"}});  // le is fine outside histograms
  registry.counter("c", "", {{"_", ""}});
  EXPECT_EQ(parse_exposition(registry.prometheus_text()).size(), 3u);
}

TEST(Registry, PrometheusTextParsesStrictly) {
  Registry registry;
  const std::vector<std::string> awkward = {"plain",
                                            "a\"quote",
                                            "back\\slash",
                                            "new\nline",
                                            "\\n",
                                            "\\\"",
                                            "",
                                            "caf\xc3\xa9 \xe2\x86\x92",
                                            "}{,=",
                                            "trailing\\"};
  registry.gauge("llmserve_num_requests_running", "Requests in the running batch.").set(3);
  for (std::size_t i = 0; i < awkward.size(); ++i) {
    registry
        .counter("llmserve_request_success_total", "Finished requests.\nBy \"reason\" \\ end.",
                 {{"finish_reason", awkward[i]}})
        .inc(static_cast<double>(i));
  }
  const auto bounds = Histogram::exponential_buckets(0.001, 4, 8);
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> latency(-4.0, 2.0);
  std::map<std::string, std::vector<double>> observed;
  for (const char* route : {"generate", "chat"}) {
    Histogram& h = registry.histogram("llmserve_e2e_request_latency_seconds", "Latency.", bounds,
                                      {{"route", route}, {"model", "m"}});
    for (int i = 0; i < 1000; ++i) {
      const double value = latency(rng);
      h.observe(value);
      observed[route].push_back(value);
    }
  }
  registry.histogram("empty_seconds", "", {0.5, 1});  // no observation yet: zero buckets

  const std::string text = registry.prometheus_text();
  std::vector<Family> families;
  ASSERT_NO_THROW(families = parse_exposition(text)) << text;
  ASSERT_EQ(families.size(), 4u);
  // Registration order.
  EXPECT_EQ(families[0].name, "llmserve_num_requests_running");
  EXPECT_EQ(families[1].name, "llmserve_request_success_total");
  EXPECT_EQ(families[2].name, "llmserve_e2e_request_latency_seconds");
  EXPECT_EQ(families[3].name, "empty_seconds");
  EXPECT_EQ(families[0].type, "gauge");
  EXPECT_EQ(families[1].type, "counter");
  EXPECT_EQ(families[2].type, "histogram");
  EXPECT_EQ(families[1].help, "Finished requests.\nBy \"reason\" \\ end.");
  EXPECT_EQ(families[3].help, "");

  EXPECT_EQ(find_value(families[0], families[0].name, {}), 3);
  // Every awkward label value comes back as it went in, with its own count.
  ASSERT_EQ(families[1].samples.size(), awkward.size());
  for (std::size_t i = 0; i < awkward.size(); ++i) {
    EXPECT_EQ(find_value(families[1], families[1].name, {{"finish_reason", awkward[i]}}),
              static_cast<double>(i))
        << awkward[i];
  }
  // Histogram buckets against the observations themselves.
  for (const auto& [route, values] : observed) {
    std::map<std::string, std::string> labels = {{"model", "m"}, {"route", route}};
    for (double bound : bounds) {
      labels["le"] = fmt::format("{}", bound);
      const auto expected =
          std::count_if(values.begin(), values.end(), [&](double v) { return v <= bound; });
      EXPECT_EQ(find_value(families[2], families[2].name + "_bucket", labels),
                static_cast<double>(expected))
          << route << " le " << bound;
    }
    labels.erase("le");
    EXPECT_EQ(find_value(families[2], families[2].name + "_count", labels), 1000);
    double sum = 0.0;
    for (double v : values) sum += v;
    EXPECT_EQ(find_value(families[2], families[2].name + "_sum", labels), sum);  // round-trips
  }
  EXPECT_EQ(find_value(families[3], "empty_seconds_bucket", {{"le", "+Inf"}}), 0);
  EXPECT_EQ(find_value(families[3], "empty_seconds_count", {}), 0);
  EXPECT_EQ(find_value(families[3], "empty_seconds_sum", {}), 0);
}

TEST(Registry, NumbersRoundTripAndIntegersHaveNoExponent) {
  Registry registry;
  const std::vector<std::pair<double, std::string>> spelled = {
      {0, "0"},           {-0.0, "0"},
      {400000, "400000"}, {1e15, "1000000000000000"},
      {-42, "-42"},       {0.1, "0.1"},
      {2.5, "2.5"},       {kInf, "+Inf"},
      {-kInf, "-Inf"},    {std::numeric_limits<double>::quiet_NaN(), "NaN"}};
  for (std::size_t i = 0; i < spelled.size(); ++i) {
    registry.gauge("spelled", "", {{"i", std::to_string(i)}}).set(spelled[i].first);
  }
  std::string text = registry.prometheus_text();
  for (std::size_t i = 0; i < spelled.size(); ++i) {
    const std::string line = fmt::format("spelled{{i=\"{}\"}} {}\n", i, spelled[i].second);
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  }

  // Random doubles of every magnitude parse back to the same bits.
  std::mt19937_64 rng(3);
  std::vector<double> values;
  while (values.size() < 2000) {
    const double value = std::bit_cast<double>(rng());
    if (std::isfinite(value)) values.push_back(value);
  }
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < 2000; ++i) values.push_back(unit(rng) * 1000);
  for (std::size_t i = 0; i < values.size(); ++i) {
    registry.gauge("random", "", {{"i", std::to_string(i)}}).set(values[i]);
  }
  const auto families = parse_exposition(registry.prometheus_text());
  const Family& random = find_family(families, "random");
  ASSERT_EQ(random.samples.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto parsed = find_value(random, "random", {{"i", std::to_string(i)}});
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(std::bit_cast<std::uint64_t>(*parsed), std::bit_cast<std::uint64_t>(values[i]))
        << values[i];
  }
  const auto parsed_nan = find_value(find_family(families, "spelled"), "spelled", {{"i", "9"}});
  EXPECT_TRUE(parsed_nan && std::isnan(*parsed_nan));
}

// The parser above must be able to fail, or the tests built on it prove nothing.
TEST(ExpositionParser, RejectsMalformedText) {
  const std::vector<std::string> bad = {
      "# HELP a x\n# TYPE a counter\na 1",                                  // no final newline
      "# HELP a x\n# TYPE a counter\n\na 1\n",                              // blank line
      "# HELP a x\n# TYPE a counter\na 1\n# HELP a x\n# TYPE a counter\n",  // HELP twice
      "# TYPE a counter\na 1\n",                                            // TYPE without HELP
      "# HELP a x\na 1\n",                                                  // no TYPE
      "# HELP a x\n# TYPE a counter\nb 1\n",                       // sample of another family
      "# HELP a x\n# TYPE a counter\na  1\n",                      // two spaces
      "# HELP a x\n# TYPE a counter\na 1 123\n",                   // timestamp
      "# HELP a x\n# TYPE a counter\na 1e\n",                      // bad number
      "# HELP a x\n# TYPE a counter\na 01\n",                      // leading zero
      "# HELP a x\n# TYPE a counter\na 1.\n",                      // no fraction digits
      "# HELP a x\n# TYPE a counter\na inf\n",                     // Go spells it +Inf
      "# HELP a x\n# TYPE a counter\na -1\n",                      // negative counter
      "# HELP a x\n# TYPE a counter\na{b=\"\\t\"} 1\n",            // bad escape
      "# HELP a x\n# TYPE a counter\na{b=\"1\",b=\"2\"} 1\n",      // label twice
      "# HELP a x\n# TYPE a counter\na{b=\"1\",} 1\n",             // trailing comma
      "# HELP a x\n# TYPE a counter\na{b=\"1} 1\n",                // unterminated value
      "# HELP a x\n# TYPE a gauge\na{b=\"1\"} 1\na{b=\"1\"} 2\n",  // duplicate sample
      "# HELP a x\n# TYPE a summary\na 1\n",                       // type we never write
      "# comment\n",                                               // other comment
      // histograms: not cumulative; no +Inf; +Inf != _count; missing _sum
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"2\"} 2\n"
      "h_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 3\n",
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_sum 1\nh_count 3\n",
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 4\n",
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 3\n",
  };
  for (const std::string& text : bad) EXPECT_THROW(parse_exposition(text), ParseError) << text;
  EXPECT_NO_THROW(parse_exposition(
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\n"
      "h_sum 1.5\nh_count 3\n"));
}

}  // namespace
}  // namespace llmserve::metrics
