#pragma once
// What every session shares: the flags, the engine, the tokenizer, the model's description, the
// in-flight cap and the drain flag. Built once by Server; sessions hold a reference.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "admission.h"
#include "llmserve/config/server_config.h"
#include "llmserve/engine/engine.h"
#include "llmserve/server/model_info.h"
#include "llmserve/tokenizer/tokenizer.h"
#include "server_metrics.h"

namespace llmserve::server {

// Requests being relayed, so that shutdown can end the ones still running at its deadline.
class ActiveRequests {
 public:
  void add(const engine::RequestHandle& handle) {
    std::lock_guard lock(mutex_);
    handles_.emplace(handle.id(), handle);
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    handles_.erase(id);
  }
  void abort_all() {
    std::lock_guard lock(mutex_);
    for (auto& [id, handle] : handles_) handle.abort();
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, engine::RequestHandle> handles_;
};

struct ServerContext {
  ServerContext(const config::ServerConfig& c, engine::Engine& e, const tokenizer::Tokenizer& t,
                ModelInfo m)
      : config(c),
        engine(e),
        tokenizer(t),
        model(std::move(m)),
        admission(c.max_concurrent_requests) {}

  const config::ServerConfig& config;
  engine::Engine& engine;
  const tokenizer::Tokenizer& tokenizer;
  const ModelInfo model;
  Admission admission;
  ActiveRequests active;
  ServerMetrics metrics;
  std::atomic<bool> draining{false};
  std::atomic<std::uint64_t> next_request_id{1};
};

}  // namespace llmserve::server
