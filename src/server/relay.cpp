#include "relay.h"

#include <fmt/format.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <variant>

#include "llmserve/api/sse.h"
#include "output_waiter.h"

namespace llmserve::server {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

std::vector<nlohmann::json> ResponseFormat::opening_events(std::int32_t) { return {}; }
std::optional<nlohmann::json> ResponseFormat::closing_event(const engine::Usage&) {
  return std::nullopt;
}

namespace {

// Where the call stands: every choice's text so far, each request's usage and whether it ended.
class Progress {
 public:
  Progress(std::size_t num_requests, std::int32_t n)
      : n_(n), choices_(num_requests * static_cast<std::size_t>(n)), requests_(num_requests) {}

  std::int32_t index(std::size_t source, std::int32_t choice) const {
    return static_cast<std::int32_t>(source) * n_ + choice;
  }
  void add(std::size_t source, const engine::RequestOutput& out) {
    for (const auto& d : out.choices) {
      auto& choice = choices_[static_cast<std::size_t>(index(source, d.index))];
      choice.text += d.text;
      choice.token_ids.insert(choice.token_ids.end(), d.token_ids.begin(), d.token_ids.end());
      choice.logprobs.insert(choice.logprobs.end(), d.logprobs.begin(), d.logprobs.end());
      if (d.finish_reason) choice.finish_reason = *d.finish_reason;
    }
    auto& request = requests_[source];
    request.usage = out.usage;
    if (out.times.first_scheduled && !request.scheduled) {
      request.scheduled = true;
      ++num_scheduled_;
    }
    if (out.error) error_ = out.error;
    if (out.finished && !request.finished) {
      request.finished = true;
      ++num_finished_;
    }
  }
  bool all_scheduled() const { return num_scheduled_ == requests_.size(); }
  bool all_finished() const { return num_finished_ == requests_.size(); }
  engine::Usage usage() const {
    engine::Usage total;
    for (const auto& r : requests_) {
      total.prompt_tokens += r.usage.prompt_tokens;
      total.completion_tokens += r.usage.completion_tokens;
      total.cached_prompt_tokens += r.usage.cached_prompt_tokens;
    }
    return total;
  }
  std::span<const api::CompletedChoice> choices() const { return choices_; }
  const std::optional<std::string>& error() const { return error_; }
  // A request's outcome for the metrics: an error, else its first choice's finish reason.
  std::string_view finish_reason(std::size_t source, const engine::RequestOutput& out) const {
    return out.error ? "error" : engine::to_string(choices_[index(source, 0)].finish_reason);
  }

 private:
  struct Request {
    engine::Usage usage;
    bool scheduled = false;
    bool finished = false;
  };
  std::int32_t n_;
  std::vector<api::CompletedChoice> choices_;
  std::vector<Request> requests_;
  std::size_t num_scheduled_ = 0;
  std::size_t num_finished_ = 0;
  std::optional<std::string> error_;
};

// Why waiting stopped without an output.
enum class Interruption { kNone, kDisconnected, kQueueTimeout, kRequestTimeout };

struct Deadlines {
  Clock::time_point queue, request;
  bool scheduled = false;
  Clock::time_point next() const { return scheduled ? request : std::min(queue, request); }
  Interruption expired() const {
    return !scheduled && queue <= request ? Interruption::kQueueTimeout
                                          : Interruption::kRequestTimeout;
  }
};

// The next output, or why there is none.
asio::awaitable<std::pair<std::optional<OutputWaiter::Tagged>, Interruption>> next_output(
    OutputWaiter& waiter, Exchange& ex, const Deadlines& deadlines) {
  auto result = co_await (waiter.next(deadlines.next()) || peer_closed(ex.stream));
  if (result.index() == 1) co_return std::pair{std::nullopt, Interruption::kDisconnected};
  auto output = std::get<0>(std::move(result));
  if (!output) co_return std::pair{std::nullopt, deadlines.expired()};
  co_return std::pair{std::move(output), Interruption::kNone};
}

// Keeps every submitted handle in ActiveRequests while the call runs (shutdown aborts them).
struct Registration {
  ActiveRequests& active;
  std::vector<std::uint64_t> ids;
  ~Registration() {
    for (const auto id : ids) active.remove(id);
  }
};

}  // namespace

asio::awaitable<Admitted> admit(Exchange& ex, ServerContext& ctx) {
  if (ctx.draining) {
    ctx.metrics.rejected("draining");
    co_await write_error(ex, api::service_unavailable("the server is shutting down"));
    Admitted refused;
    co_return refused;
  }
  Admitted admitted{ctx.admission.try_admit()};
  if (!admitted.ticket) {
    ctx.metrics.rejected("overload");
    const Headers retry{{http::field::retry_after, "1"}};  // a local: see router.cpp
    const auto error = api::too_many_requests(
        fmt::format("{} requests in flight (--max-concurrent-requests); retry later",
                    ctx.config.max_concurrent_requests));
    co_await write_error(ex, error, retry);
    admitted.keep_alive = ex.request.keep_alive();
  }
  co_return admitted;
}

asio::awaitable<bool> refuse_invalid(Exchange& ex, ServerContext& ctx, const api::ApiError& error) {
  ctx.metrics.rejected("invalid");
  co_await write_error(ex, error);
  co_return ex.request.keep_alive();
}

asio::awaitable<bool> relay(Exchange& ex, ServerContext& ctx,
                            std::vector<engine::EngineRequest> requests, bool stream,
                            ResponseFormat& format, Clock::time_point arrival) {
  const std::int32_t n = requests.front().params.n;
  std::vector<engine::RequestHandle> handles;
  Registration registration{ctx.active, {}};
  std::optional<api::ApiError> refused;  // co_await is not allowed inside a catch block
  try {
    for (auto& request : requests) {
      handles.push_back(ctx.engine.submit(std::move(request)));
      ctx.active.add(handles.back());
      registration.ids.push_back(handles.back().id());
    }
  } catch (const engine::InvalidParameter& e) {
    refused = api::bad_request(e.what(), e.param());
  } catch (const Error& e) {  // the engine has stopped
    refused = api::service_unavailable(e.what());
  }
  if (refused) {
    for (auto& handle : handles) handle.abort();
    ctx.metrics.rejected(refused->status == 503 ? "draining" : "invalid");
    co_await write_error(ex, *refused);
    co_return refused->status != 503 && ex.request.keep_alive();
  }

  OutputWaiter waiter(co_await asio::this_coro::executor, std::move(handles));
  Deadlines deadlines{arrival + ctx.config.queue_timeout, arrival + ctx.config.request_timeout};
  Progress progress(requests.size(), n);
  std::vector<std::optional<Clock::time_point>> last_token(progress.choices().size());
  EventStream events(ex);
  bool timed_out = false;
  while (true) {
    auto [tagged, interruption] = co_await next_output(waiter, ex, deadlines);
    if (interruption == Interruption::kDisconnected) {
      waiter.abort();
      co_return false;
    }
    if (interruption == Interruption::kQueueTimeout && !events.opened()) {
      waiter.abort();
      ctx.metrics.rejected("queue_timeout");
      co_await write_error(ex, api::service_unavailable("timed out waiting for the engine"));
      co_return ex.request.keep_alive();
    }
    if (interruption != Interruption::kNone) {
      // The engine ends the requests with finish_reason "timeout"; keep relaying until it does.
      waiter.abort(engine::FinishReason::kTimeout);
      timed_out = true;
      deadlines.request = Clock::time_point::max();
      deadlines.scheduled = true;
      continue;
    }
    const auto& [source, output] = *tagged;
    progress.add(source, output);
    if (progress.all_scheduled()) deadlines.scheduled = true;
    for (const auto& d : output.choices) {
      auto& last = last_token[static_cast<std::size_t>(progress.index(source, d.index))];
      for (const auto t : d.token_times) {
        if (last) ctx.metrics.token_gap(t - *last);
        last = t;
      }
    }
    if (output.finished) ctx.metrics.finished(output, progress.finish_reason(source, output));
    const bool done = progress.all_finished();
    if (stream) {
      if (!events.opened()) {
        co_await events.open();
        for (const auto& event :
             format.opening_events(static_cast<std::int32_t>(progress.choices().size()))) {
          co_await events.send(api::sse_event(event));
        }
      }
      const engine::Usage usage = progress.usage();
      for (const auto& d : output.choices) {
        // The call's total usage rides on its very last delta only.
        const bool last = done && &d == &output.choices.back();
        const auto event =
            format.delta_event(d, progress.index(source, d.index), last ? &usage : nullptr);
        if (!event.is_null()) co_await events.send(api::sse_event(event));
      }
      if (done) {
        if (auto closing = format.closing_event(usage)) {
          co_await events.send(api::sse_event(*closing));
        }
        co_await events.send(api::kSseDone);
        co_await events.close();
        co_return ex.request.keep_alive();
      }
    } else if (done) {
      if (progress.error()) {
        co_await write_error(ex, api::internal_error(*progress.error()));
      } else if (timed_out) {
        co_await write_error(ex, api::gateway_timeout("the request ran past --request-timeout"));
      } else {
        const auto body = format.response(progress.choices(), progress.usage());
        co_await write_json(ex, http::status::ok, body);
      }
      co_return ex.request.keep_alive();
    }
  }
}

}  // namespace llmserve::server
