#pragma once
// The consumer's end of one request: a stream of RequestOutput deltas written by the engine
// thread, read from any thread. The engine never waits for the reader: unread outputs coalesce.
// Exactly one output has finished == true, and it is the last one.
#include <functional>
#include <memory>
#include <optional>

#include "llmserve/engine/request_output.h"

namespace llmserve::engine {

class RequestStream;  // shared by the handle and the engine (src/engine/request_stream.h)

class RequestHandle {
 public:
  explicit RequestHandle(std::shared_ptr<RequestStream> stream);

  std::uint64_t id() const;

  // Everything produced since the last call, merged; nullopt when nothing is new.
  std::optional<RequestOutput> poll();
  // Blocks until there is something new (returns at once when there is).
  RequestOutput wait();
  // Whether the final output has been taken.
  bool done() const;

  // `notify` runs on the engine thread whenever output becomes available (and at once if some
  // already is). It must not block: post to an executor and poll() from there.
  void on_ready(std::function<void()> notify);

  // Asks the engine to stop this request (all its choices). The engine frees its blocks at its
  // next step and sends a final output with `reason` (kAbort or kTimeout). Idempotent.
  void abort(FinishReason reason = FinishReason::kAbort);

 private:
  std::shared_ptr<RequestStream> stream_;
};

}  // namespace llmserve::engine
