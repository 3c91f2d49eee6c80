#include "http_io.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace llmserve::server {

namespace asio = boost::asio;

namespace {

void set_common(http::response_header<>& header, const Exchange& ex, const Headers& headers) {
  header.set(http::field::server, "llmserve");
  header.set("X-Request-Id", ex.request_id);
  for (const auto& [field, value] : headers) header.set(field, value);
}

}  // namespace

asio::awaitable<void> write_body(Exchange& ex, http::status status, std::string_view content_type,
                                 std::string body, const Headers& headers) {
  http::response<http::string_body> res{status, ex.request.version()};
  set_common(res.base(), ex, headers);
  res.set(http::field::content_type, content_type);
  res.keep_alive(ex.request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  ex.status = static_cast<unsigned>(status);
  ex.bytes += res.body().size();
  co_await http::async_write(ex.stream, res, asio::use_awaitable);
}

asio::awaitable<void> write_json(Exchange& ex, http::status status, const nlohmann::json& body,
                                 const Headers& headers) {
  co_await write_body(ex, status, "application/json",
                      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), headers);
}

asio::awaitable<void> write_error(Exchange& ex, const api::ApiError& error,
                                  const Headers& headers) {
  co_await write_json(ex, static_cast<http::status>(error.status), api::to_json(error), headers);
}

asio::awaitable<void> EventStream::open() {
  http::response<http::empty_body> res{http::status::ok, ex_.request.version()};
  set_common(res.base(), ex_, {});
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(ex_.request.keep_alive());
  res.chunked(true);
  http::response_serializer<http::empty_body> serializer{res};
  ex_.status = 200;
  opened_ = true;
  co_await http::async_write_header(ex_.stream, serializer, asio::use_awaitable);
}

asio::awaitable<void> EventStream::send(std::string_view event) {
  ex_.bytes += event.size();
  co_await asio::async_write(ex_.stream, http::make_chunk(asio::buffer(event)),
                             asio::use_awaitable);
}

asio::awaitable<void> EventStream::close() {
  co_await asio::async_write(ex_.stream, http::make_chunk_last(), asio::use_awaitable);
}

asio::awaitable<void> peer_closed(boost::beast::tcp_stream& stream) {
  auto& socket = stream.socket();
  // A readiness report can be stale: with several I/O threads the reactor may deliver an edge
  // for bytes that a read has already taken. A blocking peek would then hang this I/O thread
  // (and the session's strand) until the client sent or closed, so the peek must not block.
  socket.non_blocking(true);
  while (true) {
    co_await socket.async_wait(asio::ip::tcp::socket::wait_read, asio::use_awaitable);
    char byte = 0;
    boost::system::error_code ec;
    const auto n = socket.receive(asio::buffer(&byte, 1), asio::ip::tcp::socket::message_peek, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec || n == 0) co_return;
    break;
  }
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(asio::use_awaitable);
}

}  // namespace llmserve::server
