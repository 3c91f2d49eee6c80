#pragma once
// The one place the engine thread meets the others: new requests and aborts queue here under a
// mutex, and the engine sleeps on its condition variable when it has nothing else to do.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <vector>

#include "llmserve/engine/engine_core.h"
#include "request_stream.h"

namespace llmserve::engine {

struct QueuedRequest {
  EngineRequest request;
  std::shared_ptr<RequestStream> stream;
  Clock::time_point arrival;
};

struct QueuedAbort {
  std::uint64_t id = 0;
  FinishReason reason = FinishReason::kAbort;
};

class EngineInbox {
 public:
  // Throws llmserve::Error once closed: nobody would ever take the request.
  void push(QueuedRequest request);
  void push(QueuedAbort abort);
  // Moves everything queued into the arguments (which the engine reuses step after step).
  void drain(std::vector<QueuedRequest>& requests, std::vector<QueuedAbort>& aborts);
  // Sleeps until something is queued or `stop` is requested; false on stop.
  bool wait(std::stop_token stop);
  void close();

 private:
  std::mutex mutex_;
  std::condition_variable_any arrived_;
  std::vector<QueuedRequest> requests_;
  std::vector<QueuedAbort> aborts_;
  bool closed_ = false;
};

}  // namespace llmserve::engine
