#pragma once
// The HTTP front end's flags (DESIGN.md sections 7 and 8).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmserve::config {

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;  // 0: any free port (the startup log says which)
  std::int32_t http_threads = 2;
  std::vector<std::string> served_model_names;         // empty: the model directory's name
  std::optional<std::string> api_key;                  // Bearer token; /health stays open
  std::int32_t max_concurrent_requests = 256;          // generation requests in flight; beyond: 429
  std::chrono::milliseconds queue_timeout{30'000};     // admitted but not yet scheduled: 503
  std::chrono::milliseconds request_timeout{600'000};  // whole request: 504 / finish "timeout"
  std::chrono::milliseconds shutdown_timeout{30'000};  // SIGTERM: running requests may finish
  std::chrono::milliseconds idle_timeout{60'000};      // keep-alive connection with no request
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 4 * 1024 * 1024;
};

// Throws llmserve::Error for values out of range.
void validate(const ServerConfig& config);

}  // namespace llmserve::config
