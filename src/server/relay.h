#pragma once
// Runs the engine requests of one API call (one per prompt) and relays their outputs to the
// client, as one JSON body or as server-sent events. This is what every generation route shares:
// submission, the queue and request deadlines, disconnects, metrics and SSE framing. What the
// JSON looks like is the route's ResponseFormat.
//
// Choices are numbered across the call: prompt p's choice c is choice p * n + c, as OpenAI
// numbers the choices of a list of prompts.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "http_io.h"
#include "llmserve/api/openai_api.h"
#include "llmserve/engine/engine_core.h"
#include "llmserve/engine/request_output.h"
#include "server_context.h"

namespace llmserve::server {

class ResponseFormat {
 public:
  virtual ~ResponseFormat() = default;
  // Events sent once the stream opens, before any delta (OpenAI chat: each choice's role).
  virtual std::vector<nlohmann::json> opening_events(std::int32_t num_choices);
  // The event for one delta of choice `index`, or null for nothing to send. `usage_if_last` is
  // the call's total usage, given with its very last delta only.
  virtual nlohmann::json delta_event(const engine::ChoiceDelta& delta, std::int32_t index,
                                     const engine::Usage* usage_if_last) = 0;
  // An event after the last delta, before [DONE] (OpenAI's usage chunk).
  virtual std::optional<nlohmann::json> closing_event(const engine::Usage& usage);
  // The whole answer when not streaming; choices[i] is choice i.
  virtual nlohmann::json response(std::span<const api::CompletedChoice> choices,
                                  const engine::Usage& usage) = 0;
};

// Draining (503) and the in-flight cap (429 with Retry-After), answered here: a ticket to hold
// for the whole call, or, without one, whether the connection may be reused after the refusal.
struct Admitted {
  std::optional<Admission::Ticket> ticket;
  bool keep_alive = false;
};
boost::asio::awaitable<Admitted> admit(Exchange& ex, ServerContext& ctx);

// Answers a request that failed validation (counted as "invalid"); returns keep-alive.
boost::asio::awaitable<bool> refuse_invalid(Exchange& ex, ServerContext& ctx,
                                            const api::ApiError& error);

// Submits `requests` (they share n), relays their outputs and answers. Returns whether the
// connection may be reused.
boost::asio::awaitable<bool> relay(Exchange& ex, ServerContext& ctx,
                                   std::vector<engine::EngineRequest> requests, bool stream,
                                   ResponseFormat& format,
                                   std::chrono::steady_clock::time_point arrival);

}  // namespace llmserve::server
