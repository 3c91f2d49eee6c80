// The load generator's pure parts: statistics and their definitions on synthetic timelines, the
// SSE reader, both request dialects, Prometheus gauge lookup, URL and sweep handling.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "api_protocol.h"
#include "options.h"
#include "run_metrics.h"
#include "server_queries.h"
#include "sse_reader.h"
#include "statistics.h"
#include "target.h"

namespace llmserve::loadgen {
namespace {

using std::chrono::milliseconds;

TEST(LoadgenStatistics, PercentilesInterpolateLikeNumpy) {
  // numpy.percentile([1, 2, 3, 4], [50, 95, 99]) = [2.5, 3.85, 3.97]
  const std::vector<double> sorted{1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile(sorted, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(sorted, 95), 3.85);
  EXPECT_DOUBLE_EQ(percentile(sorted, 99), 3.97);
  EXPECT_DOUBLE_EQ(percentile(sorted, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(sorted, 100), 4);
  EXPECT_DOUBLE_EQ(percentile(std::vector<double>{7}, 99), 7);
}

TEST(LoadgenStatistics, SummarizeSortsAndAverages) {
  // 1..100 shuffled: p50 = 50.5, p95 = 95.05, p99 = 99.01 (numpy), mean 50.5.
  std::vector<double> samples;
  for (int i = 1; i <= 100; ++i) samples.push_back(i);
  std::shuffle(samples.begin(), samples.end(), std::mt19937(3));
  const Distribution d = summarize(samples);
  EXPECT_EQ(d.count, 100u);
  EXPECT_DOUBLE_EQ(d.mean, 50.5);
  EXPECT_DOUBLE_EQ(d.p50, 50.5);
  EXPECT_NEAR(d.p95, 95.05, 1e-12);
  EXPECT_NEAR(d.p99, 99.01, 1e-12);
  EXPECT_EQ(d.min, 1);
  EXPECT_EQ(d.max, 100);
  const auto empty = to_json(summarize({}));
  EXPECT_EQ(empty["count"], 0);
  EXPECT_TRUE(empty["p99"].is_null());
}

RequestRecord timeline(Clock::time_point t0, int sent_ms, std::vector<int> chunk_ms,
                       std::int32_t output_tokens, Outcome outcome = Outcome::kOk) {
  RequestRecord r;
  r.sent = t0 + milliseconds(sent_ms);
  for (const int ms : chunk_ms) r.chunks.push_back(t0 + milliseconds(ms));
  r.finished = r.chunks.empty() ? r.sent + milliseconds(1) : r.chunks.back() + milliseconds(1);
  r.prompt_tokens = 10;
  r.output_tokens = output_tokens;
  r.outcome = outcome;
  return r;
}

TEST(LoadgenMetrics, DefinitionsOnSyntheticTimelines) {
  const Clock::time_point t0{};
  const std::vector<RequestRecord> records{
      // TTFT 100 ms; gaps 20, 30 ms; TPOT (150 - 100) / 2 = 25 ms; E2E 151 ms.
      timeline(t0, 0, {100, 120, 150}, 3),
      // Sent at 50 ms: TTFT 150 ms; one event carried both tokens (a slow reader): no gap,
      // TPOT 0 ms per token; E2E 151 ms.
      timeline(t0, 50, {200}, 2),
      // Coalesced into 2 events for 5 tokens: gap 40 ms, TPOT 40 / 4 = 10 ms.
      timeline(t0, 100, {300, 340}, 5),
      timeline(t0, 0, {}, 0, Outcome::kRejected),
      timeline(t0, 0, {}, 0, Outcome::kTimeout),
      timeline(t0, 0, {}, 0, Outcome::kHttpError),
  };
  const RunMetrics m = compute_metrics(records, t0, t0 + milliseconds(500));
  EXPECT_EQ(m.requests, 6);
  EXPECT_EQ(m.succeeded, 3);
  EXPECT_EQ(m.rejected, 1);
  EXPECT_EQ(m.errors, 2);
  EXPECT_EQ(m.timeouts, 1);
  EXPECT_EQ(m.output_tokens, 10);
  EXPECT_EQ(m.prompt_tokens, 30);
  EXPECT_DOUBLE_EQ(m.duration_s, 0.5);
  EXPECT_DOUBLE_EQ(m.requests_per_s, 6.0);
  EXPECT_DOUBLE_EQ(m.output_tokens_per_s, 20.0);
  EXPECT_DOUBLE_EQ(m.total_tokens_per_s, 80.0);
  ASSERT_EQ(m.ttft.count, 3u);
  EXPECT_NEAR(m.ttft.mean, (0.100 + 0.150 + 0.200) / 3, 1e-12);
  EXPECT_NEAR(m.ttft.p50, 0.150, 1e-12);
  ASSERT_EQ(m.itl.count, 3u);  // 20, 30, 40 ms
  EXPECT_NEAR(m.itl.p50, 0.030, 1e-12);
  EXPECT_NEAR(m.itl.max, 0.040, 1e-12);
  ASSERT_EQ(m.tpot.count, 3u);  // 25, 0, 10 ms
  EXPECT_NEAR(m.tpot.p50, 0.010, 1e-12);
  EXPECT_NEAR(m.tpot.max, 0.025, 1e-12);
  ASSERT_EQ(m.e2e.count, 3u);
  EXPECT_NEAR(m.e2e.max, 0.241, 1e-12);
  const auto json = to_json(m);
  EXPECT_EQ(json["rejected_429"], 1);
  EXPECT_NEAR(json["tpot_s"]["p50"].get<double>(), 0.010, 1e-12);
}

TEST(LoadgenMetrics, NoRequestsNoNumbers) {
  const Clock::time_point t0{};
  const RunMetrics m = compute_metrics({}, t0, t0);
  EXPECT_EQ(m.requests, 0);
  EXPECT_EQ(m.requests_per_s, 0);
  EXPECT_TRUE(to_json(m)["ttft_s"]["p50"].is_null());
}

TEST(LoadgenSse, EventsSplitAnywhereAndAnyLineEnding) {
  const std::string stream =
      ": a comment\r\ndata: {\"a\":1}\r\n\r\nevent: x\nid: 3\ndata:{\"b\":2}\n\n"
      "data: line1\ndata: line2\n\nretry: 5\n\ndata: [DONE]\r\r";
  const std::vector<std::string> expected{R"({"a":1})", R"({"b":2})", "line1\nline2", "[DONE]"};
  // Fed whole, byte by byte and in pieces of 7: the same events.
  for (const std::size_t piece : {stream.size(), std::size_t{1}, std::size_t{7}}) {
    SseReader reader;
    std::vector<std::string> events;
    for (std::size_t i = 0; i < stream.size(); i += piece) {
      for (auto& e : reader.feed(std::string_view(stream).substr(i, piece))) events.push_back(e);
    }
    EXPECT_EQ(events, expected) << "piece " << piece;
  }
  SseReader unfinished;
  EXPECT_TRUE(unfinished.feed("data: {}\n").empty());  // no blank line yet
  EXPECT_EQ(unfinished.feed("\n").size(), 1u);
}

TEST(LoadgenProtocol, RequestBodies) {
  PromptRequest request{{5, 6, 7}, 4, 0.5, "m"};
  const auto native = nlohmann::json::parse(request_body(Api::kNative, request));
  EXPECT_EQ(native["prompt"], nlohmann::json({5, 6, 7}));
  EXPECT_EQ(native["max_tokens"], 4);
  EXPECT_EQ(native["ignore_eos"], true);
  EXPECT_EQ(native["stream"], true);
  EXPECT_FALSE(native.contains("model"));
  const auto openai = nlohmann::json::parse(request_body(Api::kOpenAi, request));
  EXPECT_EQ(openai["model"], "m");
  EXPECT_EQ(openai["stream_options"]["include_usage"], true);
  EXPECT_EQ(request_path(Api::kNative), "/generate");
  EXPECT_EQ(request_path(Api::kOpenAi), "/v1/completions");
}

TEST(LoadgenProtocol, ReadsEventsOfBothDialects) {
  auto e = read_event(Api::kNative, R"({"text":"a","finish_reason":null})");
  EXPECT_TRUE(e.carries_output);
  e = read_event(
      Api::kNative,
      R"({"text":"","finish_reason":"length","usage":{"prompt_tokens":3,"completion_tokens":9}})");
  EXPECT_TRUE(e.carries_output);
  EXPECT_EQ(e.prompt_tokens, 3);
  EXPECT_EQ(e.completion_tokens, 9);
  e = read_event(Api::kOpenAi,
                 R"({"object":"text_completion","choices":[{"index":0,"text":"x"}]})");
  EXPECT_TRUE(e.carries_output);
  e = read_event(Api::kOpenAi,
                 R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})");
  EXPECT_FALSE(e.carries_output);
  EXPECT_EQ(e.completion_tokens, 2);
  e = read_event(Api::kOpenAi, R"({"error":{"message":"boom","type":"x"}})");
  EXPECT_EQ(e.error, "boom");
  EXPECT_TRUE(read_event(Api::kOpenAi, "[DONE]").done);
  EXPECT_TRUE(read_event(Api::kNative, "{not json").error.has_value());
  EXPECT_TRUE(read_event(Api::kNative, "[1]").error.has_value());
}

TEST(LoadgenServerQueries, FindsGauges) {
  const std::string text =
      "# HELP llmserve_kv_cache_usage_ratio x\n# TYPE llmserve_kv_cache_usage_ratio gauge\n"
      "llmserve_kv_cache_usage_ratio_other 7\nllmserve_kv_cache_usage_ratio 0.25\n"
      "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.5\nbroken \n";
  EXPECT_EQ(find_gauge(text, "llmserve_kv_cache_usage_ratio"), 0.25);
  EXPECT_EQ(find_gauge(text, "vllm:gpu_cache_usage_perc"), 0.5);
  EXPECT_EQ(find_gauge(text, "absent"), std::nullopt);
  EXPECT_EQ(find_gauge(text, "broken"), std::nullopt);
}

TEST(LoadgenTarget, BaseUrls) {
  Target t;
  set_base_url(t, "http://127.0.0.1:8000");
  EXPECT_EQ(t.host, "127.0.0.1");
  EXPECT_EQ(t.port, "8000");
  EXPECT_EQ(t.base_path, "");
  set_base_url(t, "http://example.com/prefix/");
  EXPECT_EQ(t.port, "80");
  EXPECT_EQ(t.base_path, "/prefix");
  set_base_url(t, "http://[::1]:9/");
  EXPECT_EQ(t.host, "::1");
  for (const char* bad : {"https://x:1", "127.0.0.1:8000", "http://", "http://x:1/?q=1", "x"}) {
    EXPECT_THROW(set_base_url(t, bad), std::invalid_argument) << bad;
  }
}

TEST(LoadgenOptions, SweepIsEveryPromptLengthTimesEveryLoad) {
  std::vector<std::string> args{"loadgen", "--concurrency",   "1,8", "--prompt-tokens",
                                "32,512",  "--output-tokens", "7",   "--seed",
                                "10"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto parsed = parse_options(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  const auto plans = sweep_plans(std::get<Options>(parsed));
  ASSERT_EQ(plans.size(), 4u);
  EXPECT_EQ(plans[0].prompt_tokens, 32);
  EXPECT_EQ(plans[0].concurrency, 1);
  EXPECT_EQ(plans[0].num_requests, 16);
  EXPECT_EQ(plans[3].prompt_tokens, 512);
  EXPECT_EQ(plans[3].concurrency, 8);
  EXPECT_EQ(plans[3].num_requests, 32);
  EXPECT_EQ(plans[3].output_tokens, 7);
  EXPECT_NE(plans[0].seed, plans[1].seed);

  std::vector<std::string> open{"loadgen", "--request-rate", "2.5", "--base-url", "ftp://x"};
  argv.clear();
  for (auto& a : open) argv.push_back(a.data());
  parsed = parse_options(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(std::holds_alternative<ExitCode>(parsed));
  EXPECT_EQ(std::get<ExitCode>(parsed).code, 2);
}

}  // namespace
}  // namespace llmserve::loadgen
