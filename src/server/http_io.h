#pragma once
// One HTTP exchange as a session sees it, and the few ways a route answers: a JSON body, a JSON
// error, or a stream of server-sent events over chunked transfer encoding.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmserve/api/api_error.h"

namespace llmserve::server {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using Headers = std::vector<std::pair<http::field, std::string>>;

struct Exchange {
  boost::beast::tcp_stream& stream;
  const HttpRequest& request;
  std::string request_id;
  // Filled by whatever answered, for the access log.
  unsigned status = 0;
  std::uint64_t bytes = 0;
};

// A complete response with `body` of `content_type`.
boost::asio::awaitable<void> write_body(Exchange& ex, http::status status,
                                        std::string_view content_type, std::string body,
                                        const Headers& headers = {});
boost::asio::awaitable<void> write_json(Exchange& ex, http::status status,
                                        const nlohmann::json& body, const Headers& headers = {});
boost::asio::awaitable<void> write_error(Exchange& ex, const api::ApiError& error,
                                         const Headers& headers = {});

// Server-sent events: the header once (200, text/event-stream, chunked), then one chunk per
// event, then the last chunk.
class EventStream {
 public:
  explicit EventStream(Exchange& ex) : ex_(ex) {}
  boost::asio::awaitable<void> open();
  boost::asio::awaitable<void> send(std::string_view event);
  boost::asio::awaitable<void> close();
  bool opened() const { return opened_; }

 private:
  Exchange& ex_;
  bool opened_ = false;
};

// Completes when the peer has closed its end (EOF or reset). Bytes of a pipelined request are
// left in the socket and mean the client is alive: then it never completes. Cancellable.
boost::asio::awaitable<void> peer_closed(boost::beast::tcp_stream& stream);

}  // namespace llmserve::server
