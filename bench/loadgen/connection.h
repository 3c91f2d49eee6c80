#pragma once
// One keep-alive HTTP/1.1 connection to the target, carrying one request at a time (Beast on
// Asio, coroutines). It connects on first use and again after the server closed it; every
// operation has a deadline, past which the request is recorded as a timeout and the connection
// is dropped.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "request_record.h"
#include "target.h"

namespace llmserve::loadgen {

struct Reply {
  unsigned status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::string error;
  bool timed_out = false;
};

class Connection {
 public:
  explicit Connection(const boost::asio::any_io_executor& executor) : stream_(executor) {}

  // POSTs `body` to `path` (under the target's base path) with stream: true and reads the event
  // stream, time-stamping every output-carrying event into `record` (sent, chunks, finished,
  // outcome, tokens). record.prompt_tokens must hold the prompt's length; the server's usage
  // overrides it.
  boost::asio::awaitable<void> stream_completion(const Target& target, const std::string& body,
                                                 RequestRecord& record, Clock::time_point deadline);

  // A plain GET (for /metrics and /v1/models), whole body.
  boost::asio::awaitable<Reply> get(const Target& target, std::string path,
                                    Clock::time_point deadline);

 private:
  using Parser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;
  // Connects when not connected, sends the request and reads the response's header into a fresh
  // `parser` (body limit `body_limit`), whose body is left to read. A kept-alive connection the
  // server closed while idle fails before any answer: that is retried once on a new connection,
  // since the server never saw the request. Returns an error message, empty on success.
  boost::asio::awaitable<std::string> send(const Target& target, boost::beast::http::verb verb,
                                           const std::string& path, const std::string& body,
                                           std::optional<Parser>& parser,
                                           std::optional<std::uint64_t> body_limit);
  boost::asio::awaitable<std::string> ensure_open(const Target& target);
  void drop();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;  // bytes read past one response belong to the next
  bool open_ = false;
};

}  // namespace llmserve::loadgen
