#pragma once
// Awaits a request's outputs from a session coroutine. The engine thread's notification posts a
// wake-up to the session's strand; the coroutine always polls before it sleeps, and both run on
// that strand, so no wake-up is lost. The waiter may go away before the engine is done with the
// handle: the notification then finds nothing to wake.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "llmserve/engine/request_handle.h"

namespace llmserve::server {

class OutputWaiter {
 public:
  OutputWaiter(boost::asio::any_io_executor executor, engine::RequestHandle handle);

  // The next output (everything new, coalesced), or nullopt when `deadline` passes first.
  boost::asio::awaitable<std::optional<engine::RequestOutput>> next(
      std::chrono::steady_clock::time_point deadline);

  engine::RequestHandle& handle() { return handle_; }

 private:
  struct Wake {
    explicit Wake(boost::asio::any_io_executor executor) : timer(std::move(executor)) {}
    boost::asio::steady_timer timer;
  };
  std::shared_ptr<Wake> wake_;
  engine::RequestHandle handle_;
};

}  // namespace llmserve::server
