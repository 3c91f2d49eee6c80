#pragma once
// A blocking HTTP/1.1 client for the integration tests (Beast), with a strict server-sent-events
// reader: every event must be exactly "data: <payload>\n\n" and the stream must end with
// "data: [DONE]\n\n" and nothing after it.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace llmserve::testing {

struct HttpResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

HttpResponse http_request(std::uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = "",
                          const std::map<std::string, std::string>& headers = {});

// Raw bytes on a fresh connection; returns what the server sent back until it closed (or until
// `timeout_ms` of silence).
std::string raw_exchange(std::uint16_t port, const std::string& bytes, int timeout_ms = 5000);

struct SseResult {
  unsigned status = 0;
  std::vector<nlohmann::json> events;  // the JSON payloads, in order
  bool done = false;                   // "[DONE]" seen last
  std::string error;                   // a framing violation, empty when strict
};

// POSTs `body` and reads the event stream. With `close_after`, closes the connection after that
// many events (a client that goes away mid-stream).
SseResult sse_request(std::uint16_t port, const std::string& target, const std::string& body,
                      std::optional<std::size_t> close_after = std::nullopt);

}  // namespace llmserve::testing
