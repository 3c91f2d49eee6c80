// `llmserve serve` on loopback with the tiny checkpoints: every route, strict SSE framing,
// malformed input, limits, overload, disconnects, graceful shutdown, and /generate against
// `generate`.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "http_client.h"
#include "server_process.h"

namespace llmserve::testing {
namespace {

std::string fixture(const char* name) {
  return (std::filesystem::path(LLMSERVE_FIXTURES_DIR) / name).string();
}

std::unique_ptr<ServerProcess> start(std::vector<std::string> args = {},
                                     const char* model = "gpt2-f32") {
  std::vector<std::string> all{"--model", fixture(model)};
  all.insert(all.end(), args.begin(), args.end());
  return std::make_unique<ServerProcess>(LLMSERVE_BINARY, all);
}

// SIGTERM, then the server must exit 0; otherwise its sanitizer report, or the end of its log,
// explains why.
void expect_clean_exit(ServerProcess& server) {
  const int code = server.stop(SIGTERM);
  const std::string log = server.log();
  auto from = log.find("ERROR: ");
  if (from == std::string::npos) from = log.size() > 8000 ? log.size() - 8000 : 0;
  EXPECT_EQ(code, 0) << log.substr(from);
}

const std::string kGreedy8 =
    R"({"prompt": "The quick brown fox", "max_tokens": 8, "temperature": 0, "ignore_eos": true)";

TEST(Server, HealthModelsAndRequestIds) {
  auto server = start({"--served-model-name", "tiny", "--served-model-name", "alias"});
  const auto health = http_request(server->port(), "GET", "/health");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.json()["status"], "ok");
  EXPECT_FALSE(health.headers.at("x-request-id").empty());
  const auto models = http_request(server->port(), "GET", "/models").json();
  ASSERT_EQ(models["data"].size(), 2u);
  EXPECT_EQ(models["data"][0]["id"], "tiny");
  EXPECT_EQ(models["data"][1]["id"], "alias");
  EXPECT_EQ(models["data"][0]["max_model_len"], 128);
  EXPECT_GT(models["data"][0]["kv_cache"]["blocks"].get<int>(), 0);
  EXPECT_NE(http_request(server->port(), "GET", "/health").headers.at("x-request-id"),
            health.headers.at("x-request-id"));
  expect_clean_exit(*server);
}

// Greedy /generate, plain and streamed, equals `llmserve generate` on the same prompt; the
// stream is framed strictly and its deltas add up to the plain answer.
TEST(Server, GenerateMatchesOfflineAndStreamsStrictSse) {
  auto server = start();
  const auto plain = http_request(server->port(), "POST", "/generate", kGreedy8 + "}");
  ASSERT_EQ(plain.status, 200u) << plain.body;
  const auto body = plain.json();
  EXPECT_EQ(body["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 8);
  EXPECT_EQ(body["usage"]["prompt_tokens"], 4);

  const std::string command = std::string(LLMSERVE_BINARY) + " generate --model " +
                              fixture("gpt2-f32") +
                              " --prompt 'The quick brown fox' --max-tokens 8 --ignore-eos"
                              " --json --log-level off";
  const CommandResult offline = run_command(command);
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(body["text"], nlohmann::json::parse(offline.out)["text"]);

  const auto streamed = sse_request(server->port(), "/generate", kGreedy8 + R"(, "stream": true})");
  EXPECT_EQ(streamed.status, 200u);
  EXPECT_TRUE(streamed.error.empty()) << streamed.error;
  EXPECT_TRUE(streamed.done);
  ASSERT_FALSE(streamed.events.empty());
  std::string text;
  for (std::size_t i = 0; i < streamed.events.size(); ++i) {
    const auto& e = streamed.events[i];
    text += e["text"].get<std::string>();
    const bool last = i + 1 == streamed.events.size();
    EXPECT_EQ(e["finish_reason"].is_null(), !last);
    EXPECT_EQ(e.contains("usage"), last);
  }
  EXPECT_EQ(text, body["text"]);
  EXPECT_EQ(streamed.events.back()["finish_reason"], "length");

  // n = 2: both choices end in the same step, yet only the very last event carries usage.
  const auto two =
      sse_request(server->port(), "/generate", kGreedy8 + R"(, "n": 2, "stream": true})");
  EXPECT_TRUE(two.done) << two.error;
  ASSERT_FALSE(two.events.empty());
  for (std::size_t i = 0; i + 1 < two.events.size(); ++i)
    EXPECT_FALSE(two.events[i].contains("usage"));
  EXPECT_EQ(two.events.back()["usage"]["completion_tokens"], 16);
  expect_clean_exit(*server);
}

// Bad input gets the right status and a JSON error; the server stays healthy.
TEST(Server, MalformedRequestsGetJsonErrors) {
  auto server = start({"--max-model-len", "64"});
  struct Case {
    std::string method, target, body;
    unsigned status;
    const char* param;  // nullptr: none expected
  };
  const std::vector<Case> cases{
      {"POST", "/generate", "not json", 400, nullptr},
      {"POST", "/generate", "[1, 2]", 400, nullptr},
      {"POST", "/generate", R"({"max_tokens": 4})", 400, "prompt"},
      {"POST", "/generate", R"({"prompt": ""})", 400, "prompt"},
      {"POST", "/generate", R"({"prompt": "hi", "max_tokens": "4"})", 400, "max_tokens"},
      {"POST", "/generate", R"({"prompt": "hi", "max_tokens": 1e30})", 400, "max_tokens"},
      {"POST", "/generate", R"({"prompt": "hi", "max_tokens": 0})", 400, "max_tokens"},
      {"POST", "/generate", R"({"prompt": "hi", "temperature": -1})", 400, "temperature"},
      {"POST", "/generate", R"({"prompt": "hi", "top_p": 1.5})", 400, "top_p"},
      {"POST", "/generate", R"({"prompt": "hi", "max_tokens": 100})", 400, "max_tokens"},
      {"POST", "/generate", R"({"prompt": "hi", "bogus": 1})", 400, "bogus"},
      {"POST", "/generate", "{\"prompt\": \"\xff\xfe\"}", 400, nullptr},
      {"GET", "/generate", "", 405, nullptr},
      {"GET", "/nowhere", "", 404, nullptr},
  };
  for (const auto& c : cases) {
    const auto r = http_request(server->port(), c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.body << "\n" << r.body;
    const auto error = nlohmann::json::parse(r.body)["error"];
    EXPECT_TRUE(error["message"].is_string()) << r.body;
    if (c.param != nullptr) {
      EXPECT_EQ(error["param"], c.param) << c.body;
    }
  }
  // A 20 MB body: 413 before the body is read.
  const auto huge = http_request(server->port(), "POST", "/generate", std::string(20 << 20, 'x'));
  EXPECT_EQ(huge.status, 413u);
  EXPECT_EQ(http_request(server->port(), "GET", "/health").status, 200u);
  expect_clean_exit(*server);
}

// Headers that never end (slowloris): the connection is closed at the idle timeout instead of
// being held, and the server keeps serving.
TEST(Server, PartialHeadersAreDroppedAtTheIdleTimeout) {
  auto server = start({"--idle-timeout", "0.2"});
  const auto start_time = std::chrono::steady_clock::now();
  const auto reply =
      raw_exchange(server->port(), "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow", 10000);
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, std::chrono::seconds(5));
  EXPECT_TRUE(reply.empty()) << reply;
  EXPECT_EQ(http_request(server->port(), "GET", "/health").status, 200u);
  expect_clean_exit(*server);
}

TEST(Server, ApiKeyGuardsEverythingButHealth) {
  auto server = start({"--api-key", "sesame"});
  EXPECT_EQ(http_request(server->port(), "GET", "/health").status, 200u);
  EXPECT_EQ(http_request(server->port(), "GET", "/models").status, 401u);
  EXPECT_EQ(http_request(server->port(), "GET", "/models", "", {{"Authorization", "Bearer wrong"}})
                .status,
            401u);
  EXPECT_EQ(http_request(server->port(), "GET", "/models", "", {{"Authorization", "Bearer sesame"}})
                .status,
            200u);
  expect_clean_exit(*server);
}

// 16 simultaneous requests over a cap of 4: the excess get 429 with Retry-After, the rest 200.
TEST(Server, OverloadGets429WithRetryAfter) {
  auto server = start({"--max-concurrent-requests", "4"});
  const std::string slow =
      R"({"prompt": "Once upon a time", "max_tokens": 100, "temperature": 0, "ignore_eos": true})";
  std::vector<std::future<HttpResponse>> replies;
  for (int i = 0; i < 16; ++i) {
    replies.push_back(std::async(std::launch::async, [&] {
      return http_request(server->port(), "POST", "/generate", slow);
    }));
  }
  int ok = 0, rejected = 0;
  for (auto& f : replies) {
    const auto r = f.get();
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++rejected;
      EXPECT_EQ(r.headers.at("retry-after"), "1");
    }
  }
  EXPECT_EQ(ok + rejected, 16);
  EXPECT_GE(ok, 4);
  EXPECT_GT(rejected, 0);
  expect_clean_exit(*server);
}

nlohmann::json metrics_summary(std::uint16_t port) {
  return http_request(port, "GET", "/metrics?format=json").json();
}

// Polls the JSON metrics until `done` holds (each poll is a real HTTP round trip), for at most
// 20 s; returns the last summary.
template <typename Predicate>
nlohmann::json poll_metrics(std::uint16_t port, Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto summary = metrics_summary(port);
  while (!done(summary) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    summary = metrics_summary(port);
  }
  return summary;
}

// 40 streams closed after their first event: every sequence is aborted and its KV blocks are
// back within a few engine steps; the server stays healthy.
TEST(Server, DisconnectStormFreesEverything) {
  auto server = start();
  const std::string body =
      R"({"prompt": "Tell me a story", "max_tokens": 110, "temperature": 0.8, "stream": true})";
  std::vector<std::future<SseResult>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::async(
        std::launch::async, [&] { return sse_request(server->port(), "/generate", body, 1); }));
  }
  for (auto& c : clients) {
    const auto r = c.get();
    EXPECT_EQ(r.events.size(), 1u) << r.status << " " << r.error;
  }
  const auto summary = poll_metrics(server->port(), [](const nlohmann::json& m) {
    return m["num_requests_running"] == 0 && m["kv_cache_usage_ratio"] == 0.0;
  });
  EXPECT_EQ(summary["num_requests_running"], 0);
  EXPECT_EQ(summary["num_requests_waiting"], 0);
  EXPECT_EQ(summary["kv_cache_usage_ratio"], 0.0);
  EXPECT_EQ(http_request(server->port(), "GET", "/health").status, 200u);
  const auto prometheus = http_request(server->port(), "GET", "/metrics").body;
  EXPECT_NE(prometheus.find("llmserve_kv_cache_usage_ratio 0\n"), std::string::npos);
  EXPECT_NE(prometheus.find("# TYPE llmserve_time_to_first_token_seconds histogram"),
            std::string::npos);
  expect_clean_exit(*server);
}

// --request-timeout: a non-streaming request gets 504, a stream ends with finish_reason
// "timeout"; --queue-timeout: a request the engine cannot start in time gets 503.
TEST(Server, TimeoutsAnswer504OrEndTheStreamAnd503InTheQueue) {
  {
    auto server = start({"--request-timeout", "0.001"});
    const std::string body = R"({"prompt": "Hello", "max_tokens": 100, "ignore_eos": true)";
    const auto plain = http_request(server->port(), "POST", "/generate", body + "}");
    EXPECT_EQ(plain.status, 504u) << plain.body;
    const auto streamed = sse_request(server->port(), "/generate", body + R"(, "stream": true})");
    EXPECT_TRUE(streamed.done) << streamed.error;
    ASSERT_FALSE(streamed.events.empty());
    EXPECT_EQ(streamed.events.back()["finish_reason"], "timeout");
    const auto summary = poll_metrics(
        server->port(), [](const nlohmann::json& m) { return m["kv_cache_usage_ratio"] == 0.0; });
    EXPECT_EQ(summary["kv_cache_usage_ratio"], 0.0);
    expect_clean_exit(*server);
  }
  // One sequence at a time, 8 requests of 200 tokens each at once, 50 ms to start: whatever the
  // machine's speed, they cannot all start in time. The late ones get 503 and never run; the
  // others finish in full.
  auto server = start({"--max-num-seqs", "1", "--queue-timeout", "0.05"}, "qwen2-f32");
  std::vector<std::future<HttpResponse>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::async(std::launch::async, [&] {
      return http_request(server->port(), "POST", "/generate",
                          R"({"prompt": "a", "max_tokens": 200, "ignore_eos": true})");
    }));
  }
  int refused = 0;
  for (auto& c : clients) {
    const auto r = c.get();
    if (r.status == 503u) {
      ++refused;
      EXPECT_EQ(r.json()["error"]["message"], "timed out waiting for the engine");
    } else {
      ASSERT_EQ(r.status, 200u) << r.body;
      EXPECT_EQ(r.json()["usage"]["completion_tokens"], 200);
    }
  }
  EXPECT_GE(refused, 1);
  // A request refused at its deadline may have just been admitted: its blocks come back at the
  // engine's next step.
  const auto summary = poll_metrics(
      server->port(), [](const nlohmann::json& m) { return m["kv_cache_usage_ratio"] == 0.0; });
  EXPECT_EQ(summary["kv_cache_usage_ratio"], 0.0);
  EXPECT_NE(http_request(server->port(), "GET", "/metrics")
                .body.find("llmserve_requests_rejected_total{reason=\"queue_timeout\"} " +
                           std::to_string(refused) + "\n"),
            std::string::npos);
  expect_clean_exit(*server);
}

// SIGTERM with a stream in flight: /health and new requests get 503, the stream still ends
// properly (finished, or aborted at the shutdown timeout, with a final event and [DONE]) and the
// server exits 0.
TEST(Server, GracefulShutdownEndsStreamsAndExitsZero) {
  auto server = start({"--shutdown-timeout", "0.3"}, "qwen2-f32");
  auto stream = std::async(std::launch::async, [&] {
    return sse_request(server->port(), "/generate",
                       R"({"prompt": "a", "max_tokens": 240, "ignore_eos": true, "stream": true})");
  });
  poll_metrics(server->port(),
               [](const nlohmann::json& m) { return m["num_requests_running"] == 1; });
  server->signal(SIGTERM);
  // Draining: health checks and new work see 503 while the stream runs on.
  auto health = http_request(server->port(), "GET", "/health");
  for (int i = 0; i < 1000 && health.status == 200; ++i) {
    health = http_request(server->port(), "GET", "/health");
  }
  EXPECT_EQ(health.status, 503u);
  EXPECT_EQ(health.json()["status"], "draining");
  EXPECT_EQ(http_request(server->port(), "POST", "/generate", R"({"prompt": "x"})").status, 503u);
  expect_clean_exit(*server);
  const auto result = stream.get();
  EXPECT_TRUE(result.done) << result.error;
  ASSERT_FALSE(result.events.empty());
  const auto reason = result.events.back()["finish_reason"];
  EXPECT_TRUE(reason == "abort" || reason == "length") << reason;
}

TEST(Server, TokenizeAndDetokenize) {
  auto server = start();
  const auto tokens =
      http_request(server->port(), "POST", "/tokenize", R"({"prompt": "Hello world"})").json();
  EXPECT_EQ(tokens["tokens"], nlohmann::json({15496, 995}));
  EXPECT_EQ(tokens["count"], 2);
  const auto text =
      http_request(server->port(), "POST", "/detokenize", R"({"tokens": [15496, 995]})").json();
  EXPECT_EQ(text["prompt"], "Hello world");
  EXPECT_EQ(http_request(server->port(), "POST", "/detokenize", R"({"tokens": [99999999]})").status,
            400u);
  expect_clean_exit(*server);
}

// The OpenAI routes over the wire, framed strictly: a chat stream (role chunks, content, one
// finish per choice, the usage chunk, [DONE]) whose text equals the plain answer; a two-prompt
// completion stream dropped after its first chunk frees every block.
TEST(Server, OpenAiChatStreamsStrictlyAndCompletionsFreeBlocksOnDisconnect) {
  auto server = start({"--served-model-name", "tiny"}, "qwen2-f32");
  const std::string chat =
      R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6,
          "temperature": 0, "ignore_eos": true)";
  const auto plain = http_request(server->port(), "POST", "/v1/chat/completions", chat + "}");
  ASSERT_EQ(plain.status, 200u) << plain.body;
  const auto answer = plain.json();
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_EQ(answer["usage"]["completion_tokens"], 6);
  const auto streamed =
      sse_request(server->port(), "/v1/chat/completions",
                  chat + R"(, "stream": true, "n": 2, "stream_options": {"include_usage": true}})");
  ASSERT_TRUE(streamed.done) << streamed.error;
  ASSERT_GE(streamed.events.size(), 4u);
  std::string text0;
  int finishes = 0;
  for (std::size_t i = 0; i + 1 < streamed.events.size(); ++i) {
    const auto& chunk = streamed.events[i];
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["id"], streamed.events.front()["id"]);
    const auto& choice = chunk["choices"][0];
    if (i < 2) {
      EXPECT_EQ(choice["delta"]["role"], "assistant");
    }
    if (choice["index"] == 0 && choice["delta"].contains("content")) {
      text0 += choice["delta"]["content"].get<std::string>();
    }
    if (!choice["finish_reason"].is_null()) ++finishes;
  }
  EXPECT_EQ(text0, answer["choices"][0]["message"]["content"]);
  EXPECT_EQ(finishes, 2);
  const auto& usage_chunk = streamed.events.back();
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], 12);

  const auto dropped =
      sse_request(server->port(), "/v1/completions",
                  R"({"model": "tiny", "prompt": ["a", "b"], "max_tokens": 200, "ignore_eos": true,
          "stream": true})",
                  1);
  EXPECT_EQ(dropped.events.size(), 1u) << dropped.error;
  const auto summary = poll_metrics(server->port(), [](const nlohmann::json& m) {
    return m["num_requests_running"] == 0 && m["kv_cache_usage_ratio"] == 0.0;
  });
  EXPECT_EQ(summary["kv_cache_usage_ratio"], 0.0);
  expect_clean_exit(*server);
}

}  // namespace
}  // namespace llmserve::testing
