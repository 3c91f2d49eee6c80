#pragma once
// The engine as a service: an EngineCore stepped by its own thread, which sleeps while there is
// nothing to run. submit() may be called from any thread; outputs arrive on the handles.
#include <atomic>
#include <thread>

#include "llmserve/engine/engine_core.h"

namespace llmserve::engine {

class Engine {
 public:
  Engine(model::ModelRunner& runner, const tokenizer::Tokenizer& tokenizer,
         const config::EngineConfig& config);
  // Stops the thread after its current step; unfinished requests end with kAbort. If the thread
  // dies, the same happens at once and submit() throws from then on.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  RequestHandle submit(EngineRequest request) { return core_.submit(std::move(request)); }
  EngineStats stats() const { return core_.stats(); }
  const KvCachePlan& kv_cache_plan() const { return core_.kv_cache_plan(); }
  std::int32_t max_model_len() const { return core_.max_model_len(); }
  // False once the thread has died of an error outside any request (health checks report it).
  bool alive() const { return alive_.load(); }

 private:
  void run(std::stop_token stop);

  EngineCore core_;
  std::atomic<bool> alive_{true};
  std::jthread thread_;  // last: started once everything it uses exists
};

}  // namespace llmserve::engine
