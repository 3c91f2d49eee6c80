#pragma once
// The server's metrics under DESIGN.md section 6's names: request outcomes and latencies observed
// by the routes, engine state mirrored from EngineStats at each scrape. GET /metrics renders
// Prometheus text; ?format=json a summary with p50 / p95 / p99 over recent requests.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "llmserve/engine/engine_core.h"
#include "llmserve/engine/request_output.h"
#include "llmserve/metrics/registry.h"

namespace llmserve::server {

class ServerMetrics {
 public:
  ServerMetrics();

  // A request refused before reaching the engine: reason is "overload", "invalid", "queue_timeout",
  // "draining" or "unauthorized".
  void rejected(std::string_view reason);
  // Per-token arrival on the server for inter-token latency: `previous` is the last token's time.
  void token_gap(engine::Clock::duration gap);
  // A request's final output: its choices' finish reasons and its times.
  void finished(const engine::RequestOutput& final_output, std::string_view finish_reason);

  std::string prometheus(const engine::EngineStats& stats);
  nlohmann::json summary(const engine::EngineStats& stats);

 private:
  void mirror(const engine::EngineStats& stats);

  metrics::Registry registry_;
  metrics::Gauge& running_;
  metrics::Gauge& waiting_;
  metrics::Gauge& kv_usage_;
  metrics::Counter& prompt_tokens_;
  metrics::Counter& generation_tokens_;
  metrics::Counter& preemptions_;
  metrics::Counter& prefix_queries_;
  metrics::Counter& prefix_hits_;
  metrics::Histogram& ttft_;
  metrics::Histogram& itl_;
  metrics::Histogram& e2e_;
  metrics::Histogram& queue_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace llmserve::server
