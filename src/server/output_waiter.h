#pragma once
// Awaits the outputs of one or more engine requests (one per prompt of an API call) from a
// session coroutine. The engine thread's notification posts a wake-up to the session's strand;
// the coroutine always polls before it sleeps, and both run on that strand, so no wake-up is
// lost.
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
#include <span>
#include <vector>

#include "llmserve/engine/request_handle.h"

namespace llmserve::server {

class OutputWaiter {
 public:
  OutputWaiter(boost::asio::any_io_executor executor, std::vector<engine::RequestHandle> handles);
  ~OutputWaiter();  // on the strand
  OutputWaiter(const OutputWaiter&) = delete;
  OutputWaiter& operator=(const OutputWaiter&) = delete;

  struct Tagged {
    std::size_t source;  // which handle
    engine::RequestOutput output;
  };
  // The next output of any handle (everything new of that handle, coalesced; the handles take
  // turns), or nullopt when `deadline` passes first.
  boost::asio::awaitable<std::optional<Tagged>> next(
      std::chrono::steady_clock::time_point deadline);

  std::span<engine::RequestHandle> handles() { return handles_; }
  void abort(engine::FinishReason reason = engine::FinishReason::kAbort);

 private:
  struct Wake;
  struct Link;
  std::shared_ptr<Wake> wake_;  // touched on the strand only
  std::shared_ptr<Link> link_;
  std::vector<engine::RequestHandle> handles_;
  std::size_t turn_ = 0;  // the handle polled first next time
};

}  // namespace llmserve::server
