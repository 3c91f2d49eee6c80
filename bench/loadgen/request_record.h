#pragma once
// What one benchmark request did, as seen by the client: when it was sent, when each streamed
// event carrying output arrived, how it ended. The raw material of every reported statistic.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace llmserve::loadgen {

using Clock = std::chrono::steady_clock;

enum class Outcome {
  kOk,              // 200 and a complete stream ([DONE] seen)
  kRejected,        // 429: the server's concurrency limit, counted apart from errors
  kHttpError,       // any other non-200 status, or an error event inside the stream
  kTransportError,  // connect/read/write failure, or a stream that ended early
  kTimeout,         // still unfinished at the request timeout or the end of the run
};

struct RequestRecord {
  // When the client started the request: connecting first when it had no open connection, as a
  // user's client would (the first request of each client, and after the server closed one).
  Clock::time_point sent;
  // Arrival of each streamed event that carried output text (one token per event unless the
  // client reads more slowly than the server generates). Events that came in one socket read
  // share its time: what the client saw, so a lagging client shows zero gaps, as with any client.
  std::vector<Clock::time_point> chunks;
  Clock::time_point finished;
  std::int32_t prompt_tokens = 0;
  // From the server's usage when it reports one, else the number of output-carrying events.
  std::int32_t output_tokens = 0;
  Outcome outcome = Outcome::kTransportError;
  unsigned http_status = 0;
  std::string error;  // the first line of what went wrong, empty when kOk
};

}  // namespace llmserve::loadgen
