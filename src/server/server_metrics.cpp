#include "server_metrics.h"

#include <array>

namespace llmserve::server {

namespace {

using metrics::Histogram;

double seconds(engine::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// 1 ms .. ~65 s: token gaps on a fast GPU through long CPU prompts.
std::vector<double> latency_buckets() { return Histogram::exponential_buckets(0.001, 2.0, 17); }

nlohmann::json window_json(const Histogram& h) {
  constexpr std::array<double, 3> kQuantiles{0.5, 0.95, 0.99};
  const auto s = h.summarize(kQuantiles);
  if (!s) return {{"count", 0}};
  return {{"count", s->count},
          {"mean", s->mean},
          {"p50", s->quantiles[0]},
          {"p95", s->quantiles[1]},
          {"p99", s->quantiles[2]}};
}

}  // namespace

ServerMetrics::ServerMetrics()
    : running_(registry_.gauge("llmserve_num_requests_running", "Sequences running in the engine")),
      waiting_(
          registry_.gauge("llmserve_num_requests_waiting", "Sequences waiting for the engine")),
      kv_usage_(registry_.gauge("llmserve_kv_cache_usage_ratio", "KV cache blocks in use / total")),
      prompt_tokens_(registry_.counter("llmserve_prompt_tokens_total", "Prompt tokens admitted")),
      generation_tokens_(registry_.counter("llmserve_generation_tokens_total", "Tokens generated")),
      preemptions_(registry_.counter("llmserve_num_preemptions_total", "Sequences preempted")),
      prefix_queries_(registry_.counter("llmserve_prefix_cache_queries_total",
                                        "Prompt tokens looked up in the prefix cache")),
      prefix_hits_(registry_.counter("llmserve_prefix_cache_hits_total",
                                     "Prompt tokens found in the prefix cache")),
      ttft_(registry_.histogram("llmserve_time_to_first_token_seconds", "Arrival to first token",
                                latency_buckets())),
      itl_(registry_.histogram("llmserve_inter_token_latency_seconds",
                               "Gap between consecutive tokens of a request", latency_buckets())),
      e2e_(registry_.histogram("llmserve_e2e_request_latency_seconds", "Arrival to last output",
                               latency_buckets())),
      queue_(registry_.histogram("llmserve_request_queue_time_seconds",
                                 "Arrival to first scheduled step", latency_buckets())) {}

void ServerMetrics::rejected(std::string_view reason) {
  registry_
      .counter("llmserve_requests_rejected_total", "Requests refused before the engine",
               {{"reason", std::string(reason)}})
      .inc();
}

void ServerMetrics::token_gap(engine::Clock::duration gap) { itl_.observe(seconds(gap)); }

void ServerMetrics::finished(const engine::RequestOutput& out, std::string_view finish_reason) {
  registry_
      .counter("llmserve_request_success_total", "Requests finished, by finish reason",
               {{"finish_reason", std::string(finish_reason)}})
      .inc();
  const auto& t = out.times;
  if (t.first_token) ttft_.observe(seconds(*t.first_token - t.arrival));
  if (t.first_scheduled) queue_.observe(seconds(*t.first_scheduled - t.arrival));
  if (t.finished) e2e_.observe(seconds(*t.finished - t.arrival));
}

void ServerMetrics::mirror(const engine::EngineStats& s) {
  running_.set(s.num_running);
  waiting_.set(s.num_waiting);
  kv_usage_.set(s.kv_cache_usage());
  prompt_tokens_.set_total(static_cast<double>(s.prompt_tokens));
  generation_tokens_.set_total(static_cast<double>(s.generation_tokens));
  preemptions_.set_total(static_cast<double>(s.num_preemptions));
  prefix_queries_.set_total(static_cast<double>(s.prefix_cache_queries));
  prefix_hits_.set_total(static_cast<double>(s.prefix_cache_hits));
}

std::string ServerMetrics::prometheus(const engine::EngineStats& stats) {
  mirror(stats);
  return registry_.prometheus_text();
}

nlohmann::json ServerMetrics::summary(const engine::EngineStats& stats) {
  mirror(stats);
  const double uptime = seconds(std::chrono::steady_clock::now() - start_);
  return {
      {"num_requests_running", stats.num_running},
      {"num_requests_waiting", stats.num_waiting},
      {"kv_cache_usage_ratio", stats.kv_cache_usage()},
      {"requests_finished", e2e_.count()},
      {"prompt_tokens_total", stats.prompt_tokens},
      {"generation_tokens_total", stats.generation_tokens},
      {"generation_tokens_per_second", uptime > 0 ? stats.generation_tokens / uptime : 0.0},
      {"num_preemptions", stats.num_preemptions},
      {"prefix_cache_hit_ratio",
       stats.prefix_cache_queries > 0
           ? static_cast<double>(stats.prefix_cache_hits) / stats.prefix_cache_queries
           : 0.0},
      {"time_to_first_token_seconds", window_json(ttft_)},
      {"inter_token_latency_seconds", window_json(itl_)},
      {"e2e_request_latency_seconds", window_json(e2e_)},
      {"request_queue_time_seconds", window_json(queue_)},
      {"uptime_seconds", uptime},
  };
}

}  // namespace llmserve::server
