#include "connection.h"

#include <fmt/format.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "sse_reader.h"

namespace llmserve::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

http::request<http::string_body> make_request(http::verb verb, const Target& target,
                                              const std::string& path, const std::string& body) {
  http::request<http::string_body> request{verb, target.base_path + path, 11};
  const bool ipv6 = target.host.find(':') != std::string::npos;
  request.set(http::field::host,
              (ipv6 ? "[" + target.host + "]" : target.host) + ":" + target.port);
  request.set(http::field::user_agent, "llmserve-loadgen");
  if (!target.api_key.empty()) {
    request.set(http::field::authorization, "Bearer " + target.api_key);
  }
  if (verb == http::verb::post) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.keep_alive(true);
  request.prepare_payload();
  return request;
}

std::string describe(const error_code& ec, const char* what) {
  return fmt::format("{}: {}", what, ec.message());
}

// Reads the response's body piece by piece as it arrives, handing each piece to `on_piece`
// together with its arrival time. Returns an error message, empty on success.
template <typename OnPiece>
asio::awaitable<std::string> read_body(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                       http::response_parser<http::buffer_body>& parser,
                                       OnPiece on_piece) {
  std::array<char, 16384> piece;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    auto [ec, bytes] = co_await http::async_read_some(stream, buffer, parser, kNoThrow);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return describe(ec, "read body");
    const std::size_t got = piece.size() - parser.get().body().size;
    if (got > 0) on_piece(std::string_view(piece.data(), got), Clock::now());
  }
  co_return std::string();
}

}  // namespace

void Connection::drop() {
  error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
  buffer_.clear();
  open_ = false;
}

asio::awaitable<std::string> Connection::ensure_open(const Target& target) {
  if (open_) co_return std::string();
  asio::ip::tcp::resolver resolver(stream_.get_executor());
  const auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(target.host, target.port, kNoThrow);
  if (resolve_ec) co_return describe(resolve_ec, "resolve");
  const auto [connect_ec, endpoint] = co_await stream_.async_connect(endpoints, kNoThrow);
  if (connect_ec) co_return describe(connect_ec, "connect");
  stream_.socket().set_option(asio::ip::tcp::no_delay(true));
  open_ = true;
  co_return std::string();
}

asio::awaitable<std::string> Connection::send(const Target& target, http::verb verb,
                                              const std::string& path, const std::string& body,
                                              std::optional<Parser>& parser,
                                              std::optional<std::uint64_t> body_limit) {
  const bool reused = open_;
  for (int attempt = 0;; ++attempt) {
    parser.emplace();
    parser->body_limit(body_limit ? boost::optional<std::uint64_t>(*body_limit) : boost::none);
    std::string error = co_await ensure_open(target);
    if (error.empty()) {
      auto request = make_request(verb, target, path, body);
      if (const auto [ec, n] = co_await http::async_write(stream_, request, kNoThrow); ec) {
        error = describe(ec, "write");
      } else if (const auto [read_ec, m] =
                     co_await http::async_read_header(stream_, buffer_, *parser, kNoThrow);
                 read_ec) {
        error = describe(read_ec, "read header");
      }
    }
    if (error.empty() || !reused || attempt > 0 || parser->got_some()) co_return error;
    drop();
  }
}

asio::awaitable<void> Connection::stream_completion(const Target& target, const std::string& body,
                                                    RequestRecord& record,
                                                    Clock::time_point deadline) {
  record.sent = Clock::now();
  const auto finish = [&](Outcome outcome, std::string error) {
    record.finished = Clock::now();
    record.outcome = outcome;
    record.error = std::move(error);
    if (outcome != Outcome::kOk && outcome != Outcome::kRejected) drop();
  };
  const auto transport_failure = [&](std::string error) {
    finish(Clock::now() >= deadline ? Outcome::kTimeout : Outcome::kTransportError,
           std::move(error));
  };
  stream_.expires_at(deadline);
  std::optional<Parser> parser;
  if (std::string error = co_await send(target, http::verb::post, request_path(target.api), body,
                                        parser, std::nullopt);
      !error.empty()) {
    transport_failure(std::move(error));
    co_return;
  }
  record.http_status = parser->get().result_int();
  const bool streaming = record.http_status == 200;
  SseReader sse;
  std::string error_body;
  bool done = false;
  std::optional<std::string> stream_error;
  std::int32_t output_events = 0;
  std::optional<std::int32_t> completion_tokens;
  std::string read_error = co_await read_body(
      stream_, buffer_, *parser, [&](std::string_view bytes, Clock::time_point at) {
        if (!streaming) {
          error_body.append(bytes);
          return;
        }
        for (const std::string& data : sse.feed(bytes)) {
          const StreamEvent event = read_event(target.api, data);
          if (event.carries_output) {
            record.chunks.push_back(at);
            ++output_events;
          }
          if (event.prompt_tokens) record.prompt_tokens = *event.prompt_tokens;
          if (event.completion_tokens) completion_tokens = event.completion_tokens;
          if (event.error && !stream_error) stream_error = event.error;
          done = done || event.done;
        }
      });
  if (!read_error.empty()) {
    transport_failure(std::move(read_error));
    co_return;
  }
  if (!parser->get().keep_alive()) drop();
  record.output_tokens = completion_tokens.value_or(output_events);
  if (!streaming) {
    finish(record.http_status == 429 ? Outcome::kRejected : Outcome::kHttpError,
           fmt::format("HTTP {}: {}", record.http_status, error_body.substr(0, 200)));
  } else if (stream_error) {
    finish(Outcome::kHttpError, *stream_error);
  } else if (!done) {
    finish(Outcome::kTransportError, "the stream ended without [DONE]");
  } else {
    finish(Outcome::kOk, std::string());
  }
}

asio::awaitable<Reply> Connection::get(const Target& target, std::string path,
                                       Clock::time_point deadline) {
  Reply reply;
  const auto fail = [&](std::string error) {
    reply.timed_out = Clock::now() >= deadline;
    reply.error = std::move(error);
    drop();
  };
  stream_.expires_at(deadline);
  std::optional<Parser> parser;
  if (std::string error = co_await send(target, http::verb::get, path, std::string(), parser,
                                        std::uint64_t{64} << 20);
      !error.empty()) {
    fail(std::move(error));
    co_return reply;
  }
  std::string read_error = co_await read_body(
      stream_, buffer_, *parser,
      [&](std::string_view bytes, Clock::time_point) { reply.body.append(bytes); });
  if (!read_error.empty()) {
    fail(std::move(read_error));
    co_return reply;
  }
  reply.status = parser->get().result_int();
  if (!parser->get().keep_alive()) drop();
  co_return reply;
}

}  // namespace llmserve::loadgen
