#pragma once
// The state a RequestHandle shares with the engine: unread output (coalesced), the consumer's
// notification, and the way back to the engine's inbox for aborts.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "llmserve/engine/request_output.h"

namespace llmserve::engine {

class EngineInbox;

class RequestStream {
 public:
  RequestStream(std::uint64_t id, std::weak_ptr<EngineInbox> inbox);

  std::uint64_t id() const { return id_; }

  // Engine thread: adds `output` to what the consumer has not read yet, then notifies it.
  void post(RequestOutput&& output);

  std::optional<RequestOutput> poll();
  RequestOutput wait();
  bool done() const;
  void on_ready(std::function<void()> notify);
  void abort(FinishReason reason);

 private:
  void notify();

  const std::uint64_t id_;
  const std::weak_ptr<EngineInbox> inbox_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::optional<RequestOutput> unread_;
  bool done_ = false;  // the final output was taken
  bool abort_sent_ = false;
  std::shared_ptr<const std::function<void()>> notify_;
};

}  // namespace llmserve::engine
