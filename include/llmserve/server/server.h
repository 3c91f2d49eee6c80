#pragma once
// The HTTP front end: a listener on Asio with --http-threads I/O threads, one coroutine per
// connection, in front of a running Engine. run() returns after a graceful shutdown (SIGINT,
// SIGTERM or stop()): new requests get 503 (/health too), requests in flight may finish until
// --shutdown-timeout, the rest are aborted and end with a final event.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llmserve/config/server_config.h"
#include "llmserve/engine/engine.h"
#include "llmserve/server/model_info.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::server {

class Server {
 public:
  // Binds the listening socket (throws llmserve::Error naming the address when it cannot).
  Server(const config::ServerConfig& config, engine::Engine& engine,
         const tokenizer::Tokenizer& tokenizer, const ModelInfo& model);
  ~Server();

  std::uint16_t port() const;
  void run();
  void stop();  // thread-safe: what SIGTERM does

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmserve::server
