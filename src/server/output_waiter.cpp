#include "output_waiter.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace llmserve::server {

namespace asio = boost::asio;

OutputWaiter::OutputWaiter(asio::any_io_executor executor, engine::RequestHandle handle)
    : wake_(std::make_shared<Wake>(executor)), handle_(std::move(handle)) {
  handle_.on_ready([weak = std::weak_ptr<Wake>(wake_), executor] {
    asio::post(executor, [weak] {
      if (auto wake = weak.lock()) wake->timer.cancel();
    });
  });
}

asio::awaitable<std::optional<engine::RequestOutput>> OutputWaiter::next(
    std::chrono::steady_clock::time_point deadline) {
  while (true) {
    if (auto output = handle_.poll()) co_return output;
    wake_->timer.expires_at(deadline);
    auto [ec] = co_await wake_->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!ec) co_return std::nullopt;  // the deadline; a cancel means output arrived
  }
}

}  // namespace llmserve::server
