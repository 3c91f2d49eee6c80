#include "runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <random>

#include "connection.h"
#include "progress_bar.h"
#include "server_queries.h"

namespace llmserve::loadgen {
namespace {

namespace asio = boost::asio;

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Coroutines of a run are detached, but an exception in one must not vanish with it (its requests
// would stay unfinished and the run would never end): it leaves io_context::run() instead.
void rethrow(std::exception_ptr error) {
  if (error) std::rethrow_exception(error);
}

std::string run_label(const RunPlan& plan) {
  const std::string load = plan.concurrency > 0 ? fmt::format("concurrency {}", plan.concurrency)
                                                : fmt::format("rate {}/s", plan.request_rate);
  return fmt::format("{}, prompt {}", load, plan.prompt_tokens);
}

// Everything the coroutines of one run share. The run is single-threaded (one io_context thread),
// so nothing here needs a lock.
class Run {
 public:
  Run(const Target& target, const RunPlan& plan)
      : target_(target),
        plan_(plan),
        records_(static_cast<std::size_t>(plan.num_requests)),
        prompt_rng_(plan.seed),
        token_ids_(plan.token_id_min, plan.token_id_max),
        start_(Clock::now()),
        end_by_(start_ + to_duration(plan.max_duration_s)),
        progress_(run_label(plan), plan.num_requests, plan.progress) {}

  RunResult execute() {
    if (plan_.concurrency > 0) {
      for (std::int32_t i = 0; i < plan_.concurrency; ++i) {
        asio::co_spawn(io_, closed_loop_client(), rethrow);
      }
    } else {
      asio::co_spawn(io_, open_loop_arrivals(), rethrow);
    }
    if (plan_.metrics_interval_s > 0) asio::co_spawn(io_, sample_metrics(), rethrow);
    io_.run();
    records_.resize(issued_);
    RunResult result;
    result.plan = plan_;
    result.metrics = compute_metrics(records_, start_, last_finish_);
    result.kv_usage = std::move(kv_usage_);
    result.metrics_error = std::move(metrics_error_);
    for (const RequestRecord& r : records_) {
      if (r.error.empty() || result.sample_errors.size() >= 5) continue;
      if (std::find(result.sample_errors.begin(), result.sample_errors.end(), r.error) ==
          result.sample_errors.end()) {
        result.sample_errors.push_back(r.error);
      }
    }
    return result;
  }

 private:
  // The next request's slot, or none when the run has sent them all or is out of time.
  std::optional<std::size_t> next_request() {
    if (issued_ >= records_.size() || Clock::now() >= end_by_) return std::nullopt;
    return issued_++;
  }

  std::string next_body() {
    PromptRequest request;
    request.prompt_ids.resize(static_cast<std::size_t>(plan_.prompt_tokens));
    for (auto& id : request.prompt_ids) id = token_ids_(prompt_rng_);
    request.max_tokens = plan_.output_tokens;
    request.temperature = plan_.temperature;
    request.model = target_.model;
    return request_body(target_.api, request);
  }

  asio::awaitable<void> send(Connection& connection, std::size_t slot) {
    RequestRecord& record = records_[slot];
    record.prompt_tokens = plan_.prompt_tokens;
    const std::string body = next_body();
    const Clock::time_point deadline =
        std::min(Clock::now() + to_duration(plan_.request_timeout_s), end_by_);
    co_await connection.stream_completion(target_, body, record, deadline);
    last_finish_ = std::max(last_finish_, record.finished);
    ++finished_;
    progress_.finished(record.outcome);
    if (load_finished()) sampler_timer_.cancel();  // its last sample now, not an interval later
  }

  asio::awaitable<void> closed_loop_client() {
    Connection connection(io_.get_executor());
    while (const auto slot = next_request()) co_await send(connection, *slot);
  }

  asio::awaitable<void> open_loop_arrivals() {
    std::mt19937_64 arrival_rng(plan_.seed ^ 0x9e3779b97f4a7c15ULL);
    std::exponential_distribution<double> gap(plan_.request_rate);
    asio::steady_timer timer(io_);
    Clock::time_point next = start_;
    while (true) {
      timer.expires_at(std::min(next, end_by_));
      co_await timer.async_wait(asio::use_awaitable);
      const auto slot = next_request();
      if (!slot) break;
      // Idle connections are reused, so that arrivals measure the server, not TCP handshakes.
      std::unique_ptr<Connection> connection;
      if (idle_.empty()) {
        connection = std::make_unique<Connection>(io_.get_executor());
      } else {
        connection = std::move(idle_.back());
        idle_.pop_back();
      }
      asio::co_spawn(io_, open_loop_request(std::move(connection), *slot), rethrow);
      next += to_duration(gap(arrival_rng));
    }
    if (load_finished()) sampler_timer_.cancel();  // out of time with nothing in flight
  }

  asio::awaitable<void> open_loop_request(std::unique_ptr<Connection> connection,
                                          std::size_t slot) {
    co_await send(*connection, slot);
    idle_.push_back(std::move(connection));
  }

  bool load_finished() const {
    return finished_ == issued_ && (issued_ == records_.size() || Clock::now() >= end_by_);
  }

  asio::awaitable<void> sample_metrics() {
    Connection connection(io_.get_executor());
    Clock::time_point next = start_;
    // One sample after the load ended shows where the gauge settles (a KV cache back to 0).
    while (true) {
      const bool last = load_finished();
      const Reply reply =
          co_await connection.get(target_, "/metrics", Clock::now() + std::chrono::seconds(5));
      const double t = std::chrono::duration<double>(Clock::now() - start_).count();
      const auto value =
          reply.status == 200 ? find_gauge(reply.body, plan_.kv_metric) : std::optional<double>();
      if (!value) {
        metrics_error_ = reply.status != 200
                             ? fmt::format("GET /metrics: {}",
                                           reply.status == 0 ? reply.error
                                                             : fmt::format("HTTP {}", reply.status))
                             : fmt::format("/metrics has no gauge {}", plan_.kv_metric);
        co_return;
      }
      kv_usage_.push_back({t, *value});
      if (last) co_return;
      if (load_finished()) continue;  // it ended during that sample: the last one at once
      next += to_duration(plan_.metrics_interval_s);
      sampler_timer_.expires_at(next);
      // Cancelled (an error here) when the load finishes: then the last sample is taken at once.
      co_await sampler_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  const Target& target_;
  const RunPlan& plan_;
  asio::io_context io_;
  std::vector<RequestRecord> records_;  // sized up front: coroutines hold references into it
  std::size_t issued_ = 0;
  std::size_t finished_ = 0;
  std::mt19937_64 prompt_rng_;
  std::uniform_int_distribution<std::int32_t> token_ids_;
  std::vector<std::unique_ptr<Connection>> idle_;
  Clock::time_point start_;
  Clock::time_point end_by_;
  Clock::time_point last_finish_ = start_;
  std::vector<GaugeSample> kv_usage_;
  std::string metrics_error_;
  asio::steady_timer sampler_timer_{io_};
  ProgressBar progress_;
};

}  // namespace

RunResult execute_run(const Target& target, const RunPlan& plan) {
  return Run(target, plan).execute();
}

}  // namespace llmserve::loadgen
