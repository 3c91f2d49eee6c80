#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "llmserve/backend/backend_factory.h"
#include "llmserve/common/error.h"
#include "llmserve/engine/engine_core.h"
#include "llmserve/model/model_runner.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::commands {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::vector<std::int32_t>> read_prompts(const config::GenerateOptions& options,
                                                    const tokenizer::Tokenizer& tokenizer) {
  std::vector<std::vector<std::int32_t>> prompts;
  if (options.prompt) {
    prompts.push_back(tokenizer.encode(*options.prompt));
  } else if (options.prompts_file) {
    std::ifstream in(*options.prompts_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) prompts.push_back(tokenizer.encode(line));
    }
    if (prompts.empty()) throw Error("{} has no prompts", options.prompts_file->string());
  } else {
    prompts.push_back(options.prompt_ids);
  }
  if (options.num_prompts > 0) {
    const std::size_t distinct = prompts.size();
    prompts.resize(static_cast<std::size_t>(options.num_prompts));
    for (std::size_t i = distinct; i < prompts.size(); ++i) prompts[i] = prompts[i % distinct];
  }
  return prompts;
}

// One completion as it accumulates from the deltas.
struct Completion {
  std::vector<std::int32_t> token_ids;
  std::string text;
  nlohmann::json logprobs = nlohmann::json::array();
  std::string finish_reason;
};

void accumulate(const engine::RequestOutput& output, std::vector<Completion>& choices) {
  for (const auto& delta : output.choices) {
    Completion& c = choices[static_cast<std::size_t>(delta.index)];
    c.token_ids.insert(c.token_ids.end(), delta.token_ids.begin(), delta.token_ids.end());
    c.text += delta.text;
    for (const auto& token : delta.logprobs) {
      auto top = nlohmann::json::array();
      for (const auto& entry : token.top)
        top.push_back({{"id", entry.id}, {"logprob", entry.logprob}});
      c.logprobs.push_back(std::move(top));
    }
    if (delta.finish_reason) c.finish_reason = engine::to_string(*delta.finish_reason);
  }
}

}  // namespace

int run(const config::GenerateOptions& options) {
  const auto& dir = options.common.model_dir;
  const auto start = Clock::now();
  // The tokenizer first: a missing tokenizer file is reported before a slow weight load.
  const auto tokenizer = tokenizer::Tokenizer::from_directory(dir);
  auto backend = backend::make_backend(options.common.device, options.common.dtype);
  auto runner = model::ModelRunner::load(dir, *backend);
  const auto& spec = runner.spec();
  engine::EngineCore engine(runner, tokenizer, options.engine);
  const auto& plan = engine.kv_cache_plan();
  spdlog::info(
      "loaded {} ({}, {} layers, hidden {}, vocab {}) on {} in {:.2f} s; KV cache {} blocks x {} "
      "tokens ({:.1f} MiB)",
      dir.string(), spec.architecture_name, spec.num_layers, spec.hidden_size, spec.vocab_size,
      backend->name(), std::chrono::duration<double>(Clock::now() - start).count(), plan.num_blocks,
      plan.block_size, static_cast<double>(plan.bytes()) / (1 << 20));

  const auto prompts = read_prompts(options, tokenizer);
  const bool stream_text = prompts.size() == 1 && options.sampling.n == 1 && !options.json;
  const auto start_generate = Clock::now();
  std::vector<engine::RequestHandle> handles;
  std::size_t prompt_tokens = 0;
  for (const auto& ids : prompts) {
    handles.push_back(engine.submit({ids, options.sampling}));
    prompt_tokens += ids.size();
  }
  std::vector<std::vector<Completion>> completions(
      prompts.size(), std::vector<Completion>(static_cast<std::size_t>(options.sampling.n)));
  std::optional<Clock::time_point> first_token;
  std::size_t unfinished = handles.size();
  while (unfinished > 0) {
    engine.step();
    for (std::size_t i = 0; i < handles.size(); ++i) {
      auto output = handles[i].poll();
      if (!output) continue;
      if (output->error) throw Error("{}", *output->error);
      if (!first_token && output->times.first_token) first_token = output->times.first_token;
      if (stream_text) {
        for (const auto& delta : output->choices) std::cout << delta.text << std::flush;
      }
      accumulate(*output, completions[i]);
      if (output->finished) --unfinished;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_generate).count();
  std::size_t generated = 0;
  for (const auto& choices : completions) {
    for (const auto& c : choices) generated += c.token_ids.size();
  }
  const auto stats = engine.stats();
  spdlog::info(
      "{} requests, {} prompt + {} generated tokens in {:.3f} s: {:.1f} generated tok/s, {:.1f} "
      "total tok/s; first token after {:.1f} ms; {} steps, {} preemptions, prefix cache hits "
      "{}/{} tokens",
      prompts.size(), prompt_tokens, generated, elapsed, static_cast<double>(generated) / elapsed,
      static_cast<double>(prompt_tokens + generated) / elapsed,
      first_token ? 1e3 * std::chrono::duration<double>(*first_token - start_generate).count()
                  : 0.0,
      stats.num_steps, stats.num_preemptions, stats.prefix_cache_hits, stats.prefix_cache_queries);

  for (std::size_t i = 0; i < completions.size(); ++i) {
    for (std::size_t j = 0; j < completions[i].size(); ++j) {
      const Completion& c = completions[i][j];
      if (stream_text) {
        std::cout << '\n';
      } else if (options.json) {
        nlohmann::json out = {
            {"prompt_index", i},
            {"index", j},
            {"prompt_token_ids", prompts[i]},
            {"token_ids", c.token_ids},
            {"text", c.text},
            {"finish_reason", c.finish_reason},
            {"logprobs", options.sampling.logprobs ? c.logprobs : nlohmann::json()},
        };
        std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      } else {
        std::cout << c.text << "\n\n";
      }
    }
  }
  return 0;
}

}  // namespace llmserve::commands
