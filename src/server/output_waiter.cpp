#include "output_waiter.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

namespace llmserve::server {

namespace asio = boost::asio;

struct OutputWaiter::Wake {
  explicit Wake(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
};

struct OutputWaiter::Link {
  std::mutex mutex;
  std::optional<asio::any_io_executor> executor;  // empty once the waiter is gone
  std::weak_ptr<Wake> wake;
};

OutputWaiter::OutputWaiter(asio::any_io_executor executor,
                           std::vector<engine::RequestHandle> handles)
    : wake_(std::make_shared<Wake>(executor)),
      link_(std::make_shared<Link>()),
      handles_(std::move(handles)) {
  link_->executor = std::move(executor);
  link_->wake = wake_;
  for (auto& handle : handles_) {
    handle.on_ready([link = link_] {
      std::lock_guard lock(link->mutex);
      if (!link->executor) return;
      asio::post(*link->executor, [wake = link->wake] {
        if (auto alive = wake.lock()) alive->timer.cancel();
      });
    });
  }
}

OutputWaiter::~OutputWaiter() {
  std::lock_guard lock(link_->mutex);
  link_->executor.reset();
}

void OutputWaiter::abort(engine::FinishReason reason) {
  for (auto& handle : handles_) handle.abort(reason);
}

asio::awaitable<std::optional<OutputWaiter::Tagged>> OutputWaiter::next(
    std::chrono::steady_clock::time_point deadline) {
  while (true) {
    for (std::size_t i = 0; i < handles_.size(); ++i) {
      const std::size_t source = (turn_ + i) % handles_.size();
      if (auto output = handles_[source].poll()) {
        turn_ = source + 1;
        co_return Tagged{source, std::move(*output)};
      }
    }
    wake_->timer.expires_at(deadline);
    auto [ec] = co_await wake_->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!ec) co_return std::nullopt;  // the deadline; a cancel means output arrived
  }
}

}  // namespace llmserve::server
