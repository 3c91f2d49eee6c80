// peer_closed() watches a streaming request's connection for the client hanging up. It must not
// mistake a stale readiness report for a close, nor block its I/O thread on one: with several
// I/O threads the reactor can report bytes that a read has already taken (a server stream
// stalled until its client gave up, 1 run in 20 of the disconnect storm on 2 cores).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "http_io.h"

namespace llmserve::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(PeerClosed, StaleReadinessIsNotACloseAndDoesNotBlock) {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  boost::beast::tcp_stream server(acceptor.accept());

  // A read queued before the watch takes the byte; the watch's wait then completes on the same
  // readiness with nothing left to peek at.
  char byte = 0;
  std::size_t read = 0;
  server.socket().async_read_some(asio::buffer(&byte, 1),
                                  [&](boost::system::error_code, std::size_t n) { read = n; });
  bool closed = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await peer_closed(server);
        closed = true;
      },
      asio::detached);
  io.poll();
  asio::write(client, asio::buffer("x", 1));

  // Were the watch to block in its peek, only the client's close would free it: close after a
  // while from another thread, so that the test fails instead of hanging.
  std::promise<void> checked;
  std::jthread watchdog([&, done = checked.get_future()] {
    if (done.wait_for(std::chrono::seconds(5)) == std::future_status::timeout) {
      ::shutdown(client.native_handle(), SHUT_RDWR);
    }
  });
  io.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(read, 1u);
  EXPECT_FALSE(closed);
  checked.set_value();

  client.close();
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace llmserve::server
