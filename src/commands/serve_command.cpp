#include <spdlog/spdlog.h>

#include <chrono>

#include "commands.h"
#include "llmserve/backend/backend_factory.h"
#include "llmserve/common/error.h"
#include "llmserve/engine/engine.h"
#include "llmserve/model/model_runner.h"
#include "llmserve/server/server.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::commands {

int run(const config::ServeOptions& options) {
  const auto& dir = options.common.model_dir;
  const auto start = std::chrono::steady_clock::now();
  const auto tokenizer = tokenizer::Tokenizer::from_directory(dir);
  auto backend = backend::make_backend(options.common.device, options.common.dtype);
  auto runner = model::ModelRunner::load(dir, *backend);
  engine::Engine engine(runner, tokenizer, options.engine);
  const auto& plan = engine.kv_cache_plan();

  server::ModelInfo info;
  info.names = options.server.served_model_names;
  if (info.names.empty()) info.names.push_back(std::filesystem::absolute(dir).filename().string());
  info.max_model_len = plan.max_model_len;
  info.vocab_size = runner.spec().vocab_size;
  info.dtype = std::string(dtype_name(backend->compute_dtype()));
  info.backend = std::string(backend->name());
  info.kv_blocks = plan.num_blocks;
  info.block_size = plan.block_size;
  info.created = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  try {
    info.chat_template = tokenizer::ChatTemplate::from_directory(dir);
    if (!info.chat_template)
      info.chat_template_problem = "tokenizer_config.json has no chat_template";
  } catch (const Error& e) {
    info.chat_template_problem = e.what();
  }
  if (!info.chat_template) {
    spdlog::warn("no chat template: {}; /v1/chat/completions will answer 400",
                 info.chat_template_problem);
  }
  server::Server server(options.server, engine, tokenizer, info);
  spdlog::info(
      "serving {} ({}, {} on {}) as '{}' in {:.2f} s: KV cache {} blocks x {} tokens = {} tokens "
      "({:.1f} MiB), max_model_len {}; listening on http://{}:{}",
      dir.string(), runner.spec().architecture_name, info.dtype, info.backend, info.names.front(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
      plan.num_blocks, plan.block_size, std::int64_t{plan.num_blocks} * plan.block_size,
      static_cast<double>(plan.bytes()) / (1 << 20), plan.max_model_len, options.server.host,
      server.port());
  server.run();
  spdlog::info("stopped");
  return 0;
}

}  // namespace llmserve::commands
