#include "session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "http_io.h"
#include "routes.h"

namespace llmserve::server {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

// A request that could not be read whole: the answer, then the connection closes.
std::optional<api::ApiError> read_failure(const boost::system::error_code& ec,
                                          const ServerContext& ctx) {
  if (ec == http::error::body_limit) {
    return api::payload_too_large(
        fmt::format("the request body exceeds {} bytes", ctx.config.body_limit));
  }
  if (ec == http::error::header_limit) {
    return api::make_error(431,
                           fmt::format("request headers exceed {} bytes", ctx.config.header_limit));
  }
  // Beast exposes its parser's error category only by name.
  if (std::string_view(ec.category().name()) == "beast.http") {
    return api::bad_request(fmt::format("malformed HTTP request: {}", ec.message()));
  }
  return std::nullopt;  // the peer went away or was too slow: nobody to answer
}

// After answering a request we did not read whole (413, 400), read and drop what the client is
// still sending for a moment: closing with unread data would reset the connection and could
// destroy the answer before the client reads it.
asio::awaitable<void> linger(beast::tcp_stream& stream) {
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(1));
  std::array<char, 16384> scratch;
  while (true) {
    auto [ec, n] =
        co_await stream.async_read_some(asio::buffer(scratch), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
  }
}

}  // namespace

asio::awaitable<void> run_session(asio::ip::tcp::socket socket, ServerContext& ctx) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(ctx.config.header_limit));
    parser.body_limit(ctx.config.body_limit);
    // The whole request must arrive within the idle timeout: a slow or stalled sender
    // (slowloris) loses its connection instead of holding it.
    stream.expires_after(ctx.config.idle_timeout);
    auto [ec, n] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    stream.expires_never();
    const auto start = std::chrono::steady_clock::now();
    if (ec) {
      if (auto failure = read_failure(ec, ctx)) {
        HttpRequest partial = parser.is_header_done() ? parser.release() : HttpRequest{};
        partial.keep_alive(false);
        Exchange ex{stream, partial, fmt::format("req-{}", ctx.next_request_id++)};
        co_await write_error(ex, *failure);
        co_await linger(stream);
      }
      break;
    }
    const std::string request_id = fmt::format("req-{}", ctx.next_request_id++);
    const HttpRequest request = parser.release();
    Exchange ex{stream, request, request_id};
    bool keep_alive = false;
    try {
      keep_alive = co_await route(ex, ctx);
    } catch (const boost::system::system_error& e) {  // the client went away mid-write
      spdlog::debug("{}: {}", request_id, e.what());
    }
    spdlog::info("{} {} {} {} {}B {:.1f}ms", request_id, request.method_string(), request.target(),
                 ex.status, ex.bytes,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    if (!keep_alive || ctx.draining) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace llmserve::server
