#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "llmserve/backend/backend_factory.h"
#include "llmserve/engine/offline_generator.h"
#include "llmserve/model/model_runner.h"
#include "llmserve/tokenizer/incremental_detokenizer.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::commands {
namespace {

nlohmann::json logprobs_json(const std::vector<std::vector<engine::TokenLogprob>>& logprobs) {
  auto rows = nlohmann::json::array();
  for (const auto& top : logprobs) {
    auto row = nlohmann::json::array();
    for (const auto& entry : top) row.push_back({{"id", entry.id}, {"logprob", entry.logprob}});
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

int run(const config::GenerateOptions& options) {
  const auto& dir = options.common.model_dir;
  const auto start = std::chrono::steady_clock::now();
  // The tokenizer first: a missing tokenizer file is reported before a slow weight load.
  const auto tokenizer = tokenizer::Tokenizer::from_directory(dir);
  auto backend = backend::make_backend(options.common.device);
  auto runner = model::ModelRunner::load(dir, *backend);
  const auto& spec = runner.spec();
  spdlog::info("loaded {} ({}, {} layers, hidden {}, vocab {}) on {} in {:.2f} s", dir.string(),
               spec.architecture_name, spec.num_layers, spec.hidden_size, spec.vocab_size,
               backend->name(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  engine::OfflineRequest request;
  request.prompt_ids = options.prompt ? tokenizer.encode(*options.prompt) : options.prompt_ids;
  request.max_tokens = options.max_tokens;
  request.temperature = options.temperature;
  request.seed = options.seed;
  request.ignore_eos = options.ignore_eos;
  request.logprobs = options.logprobs;
  request.eos_token_ids = spec.eos_token_ids;
  if (request.eos_token_ids.empty() && tokenizer.eos_token_id()) {
    request.eos_token_ids.push_back(*tokenizer.eos_token_id());
  }

  using Clock = std::chrono::steady_clock;
  tokenizer::IncrementalDetokenizer detokenizer(tokenizer);
  const auto start_generate = Clock::now();
  std::optional<Clock::time_point> first_token;
  const auto result = engine::generate_offline(runner, request, [&](std::int32_t id) {
    if (!first_token) first_token = Clock::now();
    if (!options.json) std::cout << detokenizer.push(id) << std::flush;
  });
  // The first token costs the prompt's prefill; the others one decode step each.
  const auto end = Clock::now();
  const double ttft = std::chrono::duration<double>(*first_token - start_generate).count();
  const double decode = std::chrono::duration<double>(end - *first_token).count();
  spdlog::info(
      "{} prompt tokens: first token after {:.1f} ms ({:.0f} prompt tok/s); {} tokens decoded at "
      "{:.1f} tok/s; finish_reason {}",
      request.prompt_ids.size(), 1e3 * ttft, static_cast<double>(request.prompt_ids.size()) / ttft,
      result.token_ids.size() - 1,
      decode > 0 ? static_cast<double>(result.token_ids.size() - 1) / decode : 0.0,
      result.finish_reason);

  if (options.json) {
    nlohmann::json out = {
        {"prompt_token_ids", request.prompt_ids},
        {"token_ids", result.token_ids},
        {"text", tokenizer.decode(result.token_ids, /*skip_special=*/true)},
        {"finish_reason", result.finish_reason},
        {"logprobs", options.logprobs > 0 ? logprobs_json(result.logprobs) : nlohmann::json()},
    };
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  } else {
    std::cout << detokenizer.flush() << '\n';
  }
  return 0;
}

}  // namespace llmserve::commands
