#include "http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>

namespace llmserve::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Every exchange must end within this: a server that stops answering fails the test instead of
// hanging it. Only asynchronous operations honour a tcp_stream's expiry, hence complete().
constexpr auto kExchangeTimeout = std::chrono::seconds(60);

beast::tcp_stream connect(asio::io_context& io, std::uint16_t port) {
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.expires_after(kExchangeTimeout);
  return stream;
}

// Starts one asynchronous operation with a completion handler and runs `io` until it is done.
template <typename Start>
std::size_t complete(asio::io_context& io, beast::error_code& ec, Start start) {
  std::size_t bytes = 0;
  start([&](beast::error_code e, std::size_t n) {
    ec = e;
    bytes = n;
  });
  io.restart();
  io.run();
  return bytes;
}

http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                              const std::string& body,
                                              const std::map<std::string, std::string>& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || req.method() == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  return req;
}

template <typename Fields>
std::map<std::string, std::string> lower_headers(const Fields& fields) {
  std::map<std::string, std::string> out;
  for (const auto& f : fields) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[name] = std::string(f.value());
  }
  return out;
}

}  // namespace

HttpResponse http_request(std::uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body,
                          const std::map<std::string, std::string>& headers) {
  asio::io_context io;
  auto stream = connect(io, port);
  // A server may answer (413) and close before the body is all sent: read its answer anyway.
  auto req = make_request(method, target, body, headers);
  beast::error_code ec;
  complete(io, ec, [&](auto done) { http::async_write(stream, req, done); });
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  complete(io, ec, [&](auto done) { http::async_read(stream, buffer, parser, done); });
  if (ec) throw beast::system_error(ec, method + " " + target);
  const auto& res = parser.get();
  HttpResponse out{res.result_int(), lower_headers(res), res.body()};
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes, int timeout_ms) {
  asio::io_context io;
  auto stream = connect(io, port);
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  beast::error_code ec;
  complete(io, ec, [&](auto done) { asio::async_write(stream, asio::buffer(bytes), done); });
  std::string out;
  char buf[4096];
  while (true) {
    const auto n =
        complete(io, ec, [&](auto done) { stream.async_read_some(asio::buffer(buf), done); });
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

SseResult sse_request(std::uint16_t port, const std::string& target, const std::string& body,
                      std::optional<std::size_t> close_after) {
  asio::io_context io;
  auto stream = connect(io, port);
  auto req = make_request("POST", target, body, {});
  beast::error_code ec;
  complete(io, ec, [&](auto done) { http::async_write(stream, req, done); });
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(64 << 20);
  complete(io, ec, [&](auto done) { http::async_read_header(stream, buffer, parser, done); });
  SseResult result;
  if (ec) {
    result.error = "read header: " + ec.message();
    return result;
  }
  result.status = parser.get().result_int();
  std::string pending;
  char chunk[4096];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    complete(io, ec, [&](auto done) { http::async_read(stream, buffer, parser, done); });
    if (ec && ec != http::error::need_buffer) {
      result.error = "read: " + ec.message();
      break;
    }
    pending.append(chunk, sizeof chunk - parser.get().body().size);
    for (std::size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
      const std::string event = pending.substr(0, end);
      pending.erase(0, end + 2);
      if (result.done) result.error = "an event after [DONE]";
      if (event.rfind("data: ", 0) != 0 || event.find('\n') != std::string::npos) {
        result.error = "not a single data line: " + event;
      } else if (event == "data: [DONE]") {
        result.done = true;
      } else {
        try {
          result.events.push_back(nlohmann::json::parse(event.substr(6)));
        } catch (const std::exception& e) {
          result.error = std::string("bad JSON in event: ") + e.what();
        }
      }
      if (close_after && result.events.size() >= *close_after) return result;  // hang up
    }
  }
  if (!pending.empty()) result.error = "trailing bytes: " + pending;
  return result;
}

}  // namespace llmserve::testing
