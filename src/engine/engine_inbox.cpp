#include "engine_inbox.h"

#include <utility>

#include "llmserve/common/error.h"

namespace llmserve::engine {

void EngineInbox::push(QueuedRequest request) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) throw Error("the engine has stopped; request refused");
    requests_.push_back(std::move(request));
  }
  arrived_.notify_one();
}

void EngineInbox::push(QueuedAbort abort) {
  {
    std::lock_guard lock(mutex_);
    aborts_.push_back(abort);
  }
  arrived_.notify_one();
}

void EngineInbox::drain(std::vector<QueuedRequest>& requests, std::vector<QueuedAbort>& aborts) {
  requests.clear();
  aborts.clear();
  std::lock_guard lock(mutex_);
  requests.swap(requests_);
  aborts.swap(aborts_);
}

void EngineInbox::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

bool EngineInbox::wait(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  return arrived_.wait(lock, stop, [&] { return !requests_.empty() || !aborts_.empty(); });
}

}  // namespace llmserve::engine
