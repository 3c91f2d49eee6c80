#include "request_stream.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "engine_inbox.h"

namespace llmserve::engine {

RequestStream::RequestStream(std::uint64_t id, std::weak_ptr<EngineInbox> inbox)
    : id_(id), inbox_(std::move(inbox)) {}

void RequestStream::post(RequestOutput&& output) {
  {
    std::lock_guard lock(mutex_);
    if (unread_) {
      unread_->merge(std::move(output));
    } else {
      unread_ = std::move(output);
    }
  }
  ready_.notify_all();
  notify();
}

void RequestStream::notify() {
  std::shared_ptr<const std::function<void()>> notify;
  {
    std::lock_guard lock(mutex_);
    notify = notify_;
  }
  // Outside the lock: the callback may poll() right away. It runs on the engine thread, so what
  // it throws stays here: the consumer still finds its output with poll().
  if (!notify) return;
  try {
    (*notify)();
  } catch (const std::exception& e) {
    spdlog::error("request {}: output notification failed: {}", id_, e.what());
  }
}

std::optional<RequestOutput> RequestStream::poll() {
  std::lock_guard lock(mutex_);
  std::optional<RequestOutput> out = std::exchange(unread_, std::nullopt);
  if (out && out->finished) done_ = true;
  return out;
}

RequestOutput RequestStream::wait() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return unread_.has_value(); });
  RequestOutput out = std::move(*unread_);
  unread_.reset();
  if (out.finished) done_ = true;
  return out;
}

bool RequestStream::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

void RequestStream::on_ready(std::function<void()> notify) {
  bool pending = false;
  {
    std::lock_guard lock(mutex_);
    notify_ = std::make_shared<const std::function<void()>>(std::move(notify));
    pending = unread_.has_value();
  }
  if (pending) this->notify();
}

void RequestStream::abort(FinishReason reason) {
  {
    std::lock_guard lock(mutex_);
    if (abort_sent_ || done_) return;
    abort_sent_ = true;
  }
  if (auto inbox = inbox_.lock()) inbox->push(QueuedAbort{id_, reason});
}

}  // namespace llmserve::engine
