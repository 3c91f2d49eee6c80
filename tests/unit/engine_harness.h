#pragma once
// Shared by the engine tests: a tiny checkpoint loaded once per test, and run_jobs(), which runs
// a list of requests through a fresh EngineCore (each submitted at its own step) and collects
// every choice's tokens, text and finish, checking the engine's invariants after every step.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "llmserve/backend/cpu_backend.h"
#include "llmserve/engine/engine_core.h"

namespace llmserve::engine::testing {

struct Job {
  std::vector<std::int32_t> prompt;
  SamplingParams params;
  std::int32_t arrival_step = 0;
};

struct Choice {
  std::vector<std::int32_t> tokens;
  std::string text;
  std::optional<FinishReason> finish;
  StopReason stop_reason;
};

struct JobResult {
  std::vector<Choice> choices;
  std::optional<std::string> error;
  Usage usage;
  RequestTimes times;
  std::vector<Clock::time_point> token_times;  // choice 0
};

// Folds one output into `result`; fails the test on an output after the final one.
void accumulate(RequestOutput&& output, JobResult& result, bool& finished);

class EngineTestBase {
 public:
  explicit EngineTestBase(const std::string& model, backend::Backend* backend = nullptr);

  // Runs `jobs` to completion on a new EngineCore; `stats` receives its final statistics.
  std::vector<JobResult> run_jobs(const std::vector<Job>& jobs, const config::EngineConfig& config,
                                  EngineStats* stats = nullptr);
  // Bytes of KV cache for `blocks` blocks of `block_size` tokens of this model.
  std::int64_t kv_bytes(std::int32_t blocks, std::int32_t block_size) const;
  // Greedy, ignore_eos, `max_tokens` tokens.
  static SamplingParams greedy(std::int32_t max_tokens);
  std::vector<std::int32_t> random_prompt(std::mt19937& rng, std::size_t length) const;

  std::unique_ptr<backend::Backend> own_backend;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<model::ModelRunner> runner;
};

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(LLMSERVE_FIXTURES_DIR) / name;
}

}  // namespace llmserve::engine::testing
