// llmserve-loadgen against the real server on loopback: a short sweep's JSON adds up and agrees
// with the server's own counters, 429s of a concurrency limit are counted as such, and the
// OpenAI dialect with Poisson arrivals works.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../unit/temp_dir.h"
#include "command.h"
#include "http_client.h"
#include "server_process.h"

namespace llmserve::testing {
namespace {

std::unique_ptr<ServerProcess> start(std::vector<std::string> args) {
  std::vector<std::string> all{"--model",
                               (std::filesystem::path(LLMSERVE_FIXTURES_DIR) / "gpt2-f32").string(),
                               "--served-model-name", "tiny"};
  all.insert(all.end(), args.begin(), args.end());
  return std::make_unique<ServerProcess>(LLMSERVE_BINARY, all);
}

// Runs the load generator against `server` and returns its JSON.
nlohmann::json loadgen(const ServerProcess& server, const std::string& args) {
  TempDir dir;
  const auto out = dir.path() / "sweep.json";
  const auto result =
      run_command(fmt::format("{} --base-url http://127.0.0.1:{} --quiet --output {} {}",
                              LLMSERVE_LOADGEN, server.port(), out.string(), args));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("TTFT p50"), std::string::npos) << result.out;  // the table
  std::ifstream file(out);
  auto sweep = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(sweep.is_object()) << "no sweep JSON written: " << result.err;
  return sweep.is_object() ? sweep
                           : nlohmann::json{{"api", nullptr}, {"runs", nlohmann::json::array()}};
}

// The value of a Prometheus sample line that starts with `series`, 0 when absent.
double prometheus_value(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 2));
}

TEST(Loadgen, SweepCountsAddUpAndAgreeWithTheServer) {
  auto server = start({"--max-num-seqs", "8"});
  const auto sweep = loadgen(*server,
                             "--concurrency 1,4 --prompt-tokens 8,24 --output-tokens 6 "
                             "--num-requests 8 --metrics-interval 0.01");
  EXPECT_EQ(sweep["api"], "native");
  ASSERT_EQ(sweep["runs"].size(), 4u);
  std::int64_t finished = 0, generated = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& run = sweep["runs"][i];
    SCOPED_TRACE(run.dump());
    EXPECT_EQ(run["prompt_tokens"], i < 2 ? 8 : 24);
    EXPECT_EQ(run["concurrency"], i % 2 == 0 ? 1 : 4);
    const auto& m = run["metrics"];
    EXPECT_EQ(m["requests"], 8);
    EXPECT_EQ(m["succeeded"], 8);
    EXPECT_EQ(m["errors"], 0);
    EXPECT_EQ(m["rejected_429"], 0);
    EXPECT_EQ(m["output_tokens"], 8 * 6);
    EXPECT_EQ(m["prompt_tokens"], 8 * run["prompt_tokens"].get<int>());
    for (const char* latency : {"ttft_s", "tpot_s", "e2e_s"}) {
      EXPECT_EQ(m[latency]["count"], 8) << latency;
      EXPECT_LE(m[latency]["p50"].get<double>(), m[latency]["p99"].get<double>()) << latency;
    }
    // TPOT may be 0 if a loaded machine let all of a request's tokens come in one read.
    EXPECT_GT(m["ttft_s"]["p50"].get<double>(), 0);
    EXPECT_GE(m["tpot_s"]["p50"].get<double>(), 0);
    // At most one gap per token after the first: fewer only if a read took several tokens.
    EXPECT_LE(m["itl_s"]["count"].get<int>(), 8 * 5);
    EXPECT_GT(m["itl_s"]["count"].get<int>(), 0);
    EXPECT_LE(m["ttft_s"]["p50"].get<double>(), m["e2e_s"]["p50"].get<double>());
    EXPECT_GT(m["output_tokens_per_s"].get<double>(), 0);
    EXPECT_TRUE(run["metrics_error"].is_null()) << run["metrics_error"];
    ASSERT_FALSE(run["kv_cache_usage"].empty());
    for (const auto& sample : run["kv_cache_usage"]) {
      EXPECT_GE(sample["value"].get<double>(), 0);
      EXPECT_LE(sample["value"].get<double>(), 1);
    }
    finished += m["succeeded"].get<std::int64_t>();
    generated += m["output_tokens"].get<std::int64_t>();
  }
  const auto summary = http_request(server->port(), "GET", "/metrics?format=json").json();
  EXPECT_EQ(summary["requests_finished"], finished);
  EXPECT_EQ(summary["generation_tokens_total"], generated);
  EXPECT_EQ(server->stop(SIGTERM), 0);
}

TEST(Loadgen, CountsTheServersConcurrencyLimitAs429) {
  auto server = start({"--max-concurrent-requests", "2"});
  const auto sweep = loadgen(*server,
                             "--concurrency 8 --prompt-tokens 16 --output-tokens 32 "
                             "--num-requests 40 --metrics-interval 0");
  const auto& m = sweep["runs"][0]["metrics"];
  EXPECT_EQ(m["requests"], 40);
  EXPECT_GT(m["rejected_429"].get<int>(), 0);
  EXPECT_GT(m["succeeded"].get<int>(), 0);
  EXPECT_EQ(m["succeeded"].get<int>() + m["rejected_429"].get<int>(), 40);
  EXPECT_EQ(m["errors"], 0);
  EXPECT_TRUE(sweep["runs"][0]["kv_cache_usage"].empty());
  const auto metrics = http_request(server->port(), "GET", "/metrics").body;
  EXPECT_EQ(prometheus_value(metrics, R"(llmserve_requests_rejected_total{reason="overload"})"),
            m["rejected_429"].get<double>());
  EXPECT_EQ(server->stop(SIGTERM), 0);
}

TEST(Loadgen, OpenAiDialectWithPoissonArrivals) {
  auto server = start({});
  const auto sweep = loadgen(*server,
                             "--api openai --request-rate 50 --prompt-tokens 12 --output-tokens 4 "
                             "--num-requests 10 --seed 3");
  EXPECT_EQ(sweep["api"], "openai");
  EXPECT_EQ(sweep["model"], "tiny");  // found on /v1/models
  const auto& run = sweep["runs"][0];
  EXPECT_EQ(run["mode"], "poisson");
  EXPECT_EQ(run["request_rate"], 50.0);
  EXPECT_EQ(run["metrics"]["succeeded"], 10);
  EXPECT_EQ(run["metrics"]["output_tokens"], 40);  // from the usage chunk
  EXPECT_EQ(run["metrics"]["ttft_s"]["count"], 10);
  EXPECT_EQ(server->stop(SIGTERM), 0);
}

// The server drops kept-alive connections idle for 0.2 s; arrivals 0.25 s apart on average and
// /metrics samples 0.5 s apart find their pooled connection closed, and must retry on a new one
// instead of counting an error the server never saw.
TEST(Loadgen, ConnectionsTheServerClosedWhileIdleAreRetried) {
  auto server = start({"--idle-timeout", "0.2"});
  const auto sweep = loadgen(*server,
                             "--request-rate 4 --prompt-tokens 4 --output-tokens 2 "
                             "--num-requests 8 --metrics-interval 0.5 --seed 1");
  const auto& run = sweep["runs"][0];
  EXPECT_EQ(run["metrics"]["succeeded"], 8) << run["errors"];
  EXPECT_TRUE(run["metrics_error"].is_null()) << run["metrics_error"];
  EXPECT_GE(run["kv_cache_usage"].size(), 3u);
  EXPECT_EQ(server->stop(SIGTERM), 0);
}

TEST(Loadgen, AnUnreachableServerIsCountedNotFatal) {
  // A port nothing listens on: every request fails to connect, the JSON says so.
  TempDir dir;
  const auto out = dir.path() / "sweep.json";
  const auto result = run_command(
      fmt::format("{} --base-url http://127.0.0.1:1 --quiet --concurrency 2 --num-requests 4 "
                  "--output-tokens 2 --prompt-tokens 2 --metrics-interval 0 --output {}",
                  LLMSERVE_LOADGEN, out.string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream file(out);
  const auto m = nlohmann::json::parse(file)["runs"][0]["metrics"];
  EXPECT_EQ(m["requests"], 4);
  EXPECT_EQ(m["errors"], 4);
  EXPECT_TRUE(m["ttft_s"]["p50"].is_null());
  EXPECT_EQ(run_command(std::string(LLMSERVE_LOADGEN) + " --concurrency 0").exit_code, 2);
}

}  // namespace
}  // namespace llmserve::testing
