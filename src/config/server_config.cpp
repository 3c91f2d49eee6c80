#include "llmserve/config/server_config.h"

#include "llmserve/common/error.h"

namespace llmserve::config {

void validate(const ServerConfig& config) {
  if (config.http_threads < 1 || config.http_threads > 256) {
    throw Error("--http-threads must be in [1, 256], got {}", config.http_threads);
  }
  if (config.max_concurrent_requests < 1) {
    throw Error("--max-concurrent-requests must be at least 1, got {}",
                config.max_concurrent_requests);
  }
  for (auto [name, value] : {std::pair{"--queue-timeout", config.queue_timeout},
                             std::pair{"--request-timeout", config.request_timeout},
                             std::pair{"--shutdown-timeout", config.shutdown_timeout}}) {
    if (value.count() < 0) throw Error("{} must not be negative", name);
  }
  if (config.api_key && config.api_key->empty()) throw Error("--api-key must not be empty");
}

}  // namespace llmserve::config
