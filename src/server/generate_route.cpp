// POST /generate: admission, validation, then the request's outputs relayed as one JSON body or
// as server-sent events, until it finishes, times out or the client goes away.
#include <fmt/format.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <variant>

#include "llmserve/api/generate_api.h"
#include "llmserve/api/sse.h"
#include "output_waiter.h"
#include "routes.h"

namespace llmserve::server {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

// The choices' text so far and how they ended, for the non-streaming answer.
struct Collected {
  std::vector<api::GeneratedChoice> choices_;
  engine::Usage usage;
  std::optional<std::string> error;

  explicit Collected(std::int32_t n) : choices_(static_cast<std::size_t>(n)) {}
  void add(const engine::RequestOutput& out) {
    for (const auto& d : out.choices) {
      auto& choice = choices_[static_cast<std::size_t>(d.index)];
      choice.text += d.text;
      if (d.finish_reason) choice.finish_reason = *d.finish_reason;
    }
    usage = out.usage;
    if (out.error) error = out.error;
  }
  std::span<const api::GeneratedChoice> choices() const { return choices_; }
  // The request's outcome for the metrics: an error, else choice 0's finish reason.
  std::string_view finish_reason() const {
    return error ? "error" : engine::to_string(choices_.front().finish_reason);
  }
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
asio::awaitable<std::pair<std::optional<engine::RequestOutput>, Interruption>> next_output(
    OutputWaiter& waiter, Exchange& ex, Deadlines& deadlines) {
  auto result = co_await (waiter.next(deadlines.next()) || peer_closed(ex.stream));
  if (result.index() == 1) co_return std::pair{std::nullopt, Interruption::kDisconnected};
  auto output = std::get<0>(std::move(result));
  if (!output) co_return std::pair{std::nullopt, deadlines.expired()};
  if (output->times.first_scheduled) deadlines.scheduled = true;
  co_return std::pair{std::move(output), Interruption::kNone};
}

}  // namespace

asio::awaitable<bool> handle_generate(Exchange& ex, ServerContext& ctx) {
  const auto arrival = Clock::now();
  if (ctx.draining) {
    ctx.metrics.rejected("draining");
    co_await write_error(ex, api::service_unavailable("the server is shutting down"));
    co_return false;
  }
  auto ticket = ctx.admission.try_admit();
  if (!ticket) {
    ctx.metrics.rejected("overload");
    const Headers retry{{http::field::retry_after, "1"}};  // a local: see router.cpp
    co_await write_error(ex,
                         api::too_many_requests(fmt::format(
                             "{} requests in flight (--max-concurrent-requests); retry later",
                             ctx.config.max_concurrent_requests)),
                         retry);
    co_return ex.request.keep_alive();
  }
  auto parsed = api::parse_generate_request(ex.request.body(), ctx.tokenizer,
                                            {ctx.model.max_model_len, ctx.model.vocab_size});
  if (auto* error = std::get_if<api::ApiError>(&parsed)) {
    ctx.metrics.rejected("invalid");
    co_await write_error(ex, *error);
    co_return ex.request.keep_alive();
  }
  auto& request = std::get<api::GenerateRequest>(parsed);
  const std::int32_t n = request.params.n;
  std::optional<engine::RequestHandle> handle;
  std::optional<api::ApiError> refused;  // co_await is not allowed inside a catch block
  try {
    handle = ctx.engine.submit({std::move(request.prompt_ids), request.params});
  } catch (const engine::InvalidParameter& e) {
    refused = api::bad_request(e.what(), e.param());
  } catch (const Error& e) {  // the engine has stopped
    refused = api::service_unavailable(e.what());
  }
  if (refused) {
    ctx.metrics.rejected(refused->status == 503 ? "draining" : "invalid");
    co_await write_error(ex, *refused);
    co_return refused->status != 503 && ex.request.keep_alive();
  }
  ctx.active.add(*handle);
  struct Unregister {
    ActiveRequests& active;
    std::uint64_t id;
    ~Unregister() { active.remove(id); }
  } unregister{ctx.active, handle->id()};
  OutputWaiter waiter(co_await asio::this_coro::executor, *handle);
  Deadlines deadlines{arrival + ctx.config.queue_timeout, arrival + ctx.config.request_timeout};
  Collected collected(n);
  std::vector<std::optional<Clock::time_point>> last_token(static_cast<std::size_t>(n));
  EventStream events(ex);
  bool timed_out = false;
  while (true) {
    auto [output, interruption] = co_await next_output(waiter, ex, deadlines);
    if (interruption == Interruption::kDisconnected) {
      waiter.handle().abort();
      co_return false;
    }
    if (interruption == Interruption::kQueueTimeout && !events.opened()) {
      waiter.handle().abort();
      ctx.metrics.rejected("queue_timeout");
      co_await write_error(ex, api::service_unavailable("timed out waiting for the engine"));
      co_return ex.request.keep_alive();
    }
    if (interruption != Interruption::kNone) {
      // The engine ends the request with finish_reason "timeout"; keep relaying until it does.
      waiter.handle().abort(engine::FinishReason::kTimeout);
      timed_out = true;
      deadlines.request = Clock::time_point::max();
      deadlines.scheduled = true;
      continue;
    }
    collected.add(*output);
    for (const auto& d : output->choices) {
      auto& last = last_token[static_cast<std::size_t>(d.index)];
      for (const auto t : d.token_times) {
        if (last) ctx.metrics.token_gap(t - *last);
        last = t;
      }
    }
    if (output->finished) ctx.metrics.finished(*output, collected.finish_reason());
    if (request.stream) {
      if (!events.opened()) co_await events.open();
      for (const auto& d : output->choices) {
        // Usage rides on the request's very last event only, even when several choices end in
        // the same output.
        const bool last = output->finished && &d == &output->choices.back();
        co_await events.send(api::sse_event(api::generate_stream_event(
            d.text, d.finish_reason, last ? &output->usage : nullptr,
            n > 1 ? std::optional<std::int32_t>(d.index) : std::nullopt)));
      }
      if (output->finished) {
        co_await events.send(api::kSseDone);
        co_await events.close();
        co_return ex.request.keep_alive();
      }
    } else if (output->finished) {
      if (collected.error) {
        co_await write_error(ex, api::internal_error(*collected.error));
      } else if (timed_out) {
        co_await write_error(ex, api::gateway_timeout("the request ran past --request-timeout"));
      } else {
        co_await write_json(ex, http::status::ok,
                            api::generate_response(collected.choices(), collected.usage));
      }
      co_return ex.request.keep_alive();
    }
  }
}

}  // namespace llmserve::server
