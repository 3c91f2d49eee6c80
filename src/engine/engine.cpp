#include "llmserve/engine/engine.h"

#include <spdlog/spdlog.h>

namespace llmserve::engine {

Engine::Engine(model::ModelRunner& runner, const tokenizer::Tokenizer& tokenizer,
               const config::EngineConfig& config)
    : core_(runner, tokenizer, config), thread_([this](std::stop_token stop) { run(stop); }) {}

Engine::~Engine() {
  thread_.request_stop();
  thread_.join();
  core_.shutdown();
}

void Engine::run(std::stop_token stop) {
  try {
    while (!stop.stop_requested()) {
      if (!core_.step() && !core_.wait_for_work(stop)) break;
    }
  } catch (const std::exception& e) {
    // Steps contain their own failures; this is a bug. End every request rather than hang them.
    spdlog::critical("engine thread stopped: {}", e.what());
    alive_ = false;
    core_.shutdown();
  }
}

}  // namespace llmserve::engine
