#pragma once
// Awaits a request's outputs from a session coroutine. The engine thread's notification posts a
// wake-up to the session's strand; the coroutine always polls before it sleeps, and both run on
// that strand, so no wake-up is lost.
//
// The engine keeps (and finally destroys) the notification for as long as it keeps the request,
// which can be after this waiter, its session and even the io_context are gone (a request
// aborted just before shutdown). So the notification owns no Asio object: it reaches the strand
// through a Link that the waiter empties, under the Link's mutex, when it goes away.
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
  ~OutputWaiter();  // on the strand
  OutputWaiter(const OutputWaiter&) = delete;
  OutputWaiter& operator=(const OutputWaiter&) = delete;

  // The next output (everything new, coalesced), or nullopt when `deadline` passes first.
  boost::asio::awaitable<std::optional<engine::RequestOutput>> next(
      std::chrono::steady_clock::time_point deadline);

  engine::RequestHandle& handle() { return handle_; }

 private:
  struct Wake;
  struct Link;
  std::shared_ptr<Wake> wake_;  // touched on the strand only
  std::shared_ptr<Link> link_;
  engine::RequestHandle handle_;
};

}  // namespace llmserve::server
