#include "llmserve/config/cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>

#include "llmserve/common/error.h"

namespace llmserve::config {
namespace {

void add_common(CLI::App& command, CommonOptions& options) {
  command
      .add_option("--model", options.model_dir,
                  "Hugging Face model directory (config.json, *.safetensors, tokenizer files)")
      ->default_str(default_model_dir().string());
  command.add_option("--log-level", options.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
}

// Not for kv-plan, whose budget flags say which memory it plans for.
void add_device(CLI::App& command, CommonOptions& options) {
  command.add_option("--device", options.device, "auto | cpu | cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  command
      .add_option("--dtype", options.dtype,
                  "Weights, activations and KV cache: auto (bfloat16 on cuda, float32 on cpu), "
                  "bfloat16, float16 (cuda), float32 (cpu)")
      ->check(CLI::IsMember({"auto", "bfloat16", "float16", "float32"}))
      ->capture_default_str();
}

void add_block_size(CLI::App& command, std::int32_t& block_size) {
  command.add_option("--block-size", block_size, "KV cache block size in tokens")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
}

void add_engine_options(CLI::App& command, EngineConfig& config) {
  add_block_size(command, config.block_size);
  command
      .add_option("--kv-cache-memory", config.kv_cache_memory,
                  "KV cache budget, e.g. 512MiB, 4GiB (default: 4GiB on cpu; on cuda what "
                  "--gpu-memory-utilization leaves)")
      ->transform(CLI::AsSizeValue(true));
  command
      .add_option("--gpu-memory-utilization", config.gpu_memory_utilization,
                  "Fraction of the GPU's memory for weights, activations and KV cache, when "
                  "--kv-cache-memory is not given (cuda)")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  command.add_option("--max-num-seqs", config.max_num_seqs, "Most sequences running in one step")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  command
      .add_option("--max-num-batched-tokens", config.max_num_batched_tokens,
                  "Token budget of one step (prefill chunks + decodes)")
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  command.add_option("--max-model-len", config.max_model_len,
                     "Longest prompt + completion (default: the model's)");
  command.add_flag("--enable-prefix-caching", config.enable_prefix_caching,
                   "Share the KV blocks of common prompt prefixes across requests");
  command.add_flag("--enforce-eager", config.enforce_eager,
                   "Run decode steps op by op instead of replaying CUDA graphs (cuda)");
}

// Seconds on the command line, milliseconds inside.
void add_seconds(CLI::App& command, const std::string& name, std::chrono::milliseconds& value,
                 const std::string& help) {
  command
      .add_option_function<double>(
          name,
          [&value, name](double seconds) {
            if (!(seconds >= 0.0) || seconds > 1e7) {
              throw CLI::ValidationError(name, "must be a number of seconds in [0, 1e7]");
            }
            value = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
          },
          help)
      ->default_str(fmt::format("{}", static_cast<double>(value.count()) / 1000.0));
}

void add_server_options(CLI::App& command, ServerConfig& config) {
  command.add_option("--host", config.host, "Address to listen on")->capture_default_str();
  command.add_option("--port", config.port, "Port (0: any free port)")->capture_default_str();
  command.add_option("--http-threads", config.http_threads, "I/O threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  command.add_option("--served-model-name", config.served_model_names,
                     "Name(s) clients use for the model (default: the directory's name)");
  command.add_option("--api-key", config.api_key, "Require 'Authorization: Bearer KEY'");
  command
      .add_option("--max-concurrent-requests", config.max_concurrent_requests,
                  "Generation requests in flight; beyond it 429")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  add_seconds(command, "--queue-timeout", config.queue_timeout,
              "Seconds a request may wait for the engine (then 503)");
  add_seconds(command, "--request-timeout", config.request_timeout,
              "Seconds a request may take in all (then 504 or finish_reason timeout)");
  add_seconds(command, "--shutdown-timeout", config.shutdown_timeout,
              "Seconds running requests may finish after SIGTERM");
  add_seconds(command, "--idle-timeout", config.idle_timeout,
              "Seconds a connection may take to send a request");
}

// Combinations of flags that cannot work are usage errors too.
template <typename Config>
void check_options(const Config& config) {
  try {
    validate(config);
  } catch (const Error& e) {
    throw CLI::ValidationError(e.what());
  }
}

void add_sampling_options(CLI::App& command, engine::SamplingParams& params) {
  command.add_option("--max-tokens", params.max_tokens, "Tokens to generate")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  command.add_option("--min-tokens", params.min_tokens, "Tokens before any stop condition counts");
  command.add_option("--temperature", params.temperature, "0 = greedy")
      ->check(CLI::Range(0.0f, 100.0f))
      ->capture_default_str();
  command.add_option("--top-p", params.top_p, "Nucleus sampling mass, (0, 1]");
  command.add_option("--top-k", params.top_k, "Sample among the k most likely (0 = all)");
  command.add_option("--min-p", params.min_p, "Drop tokens below min_p x p(most likely)");
  command.add_option("--repetition-penalty", params.repetition_penalty, "> 1 discourages repeats");
  command.add_option("--presence-penalty", params.presence_penalty, "[-2, 2]");
  command.add_option("--frequency-penalty", params.frequency_penalty, "[-2, 2]");
  command.add_option("--seed", params.seed, "Sampling seed (default: random)");
  command.add_option("--n", params.n, "Completions per prompt");
  command.add_option("--stop", params.stop, "Stop string (repeatable)");
  command.add_option("--stop-token-ids", params.stop_token_ids, "Stop token ids, e.g. 13,198")
      ->delimiter(',');
  command.add_flag("--ignore-eos", params.ignore_eos, "Keep generating after EOS");
  command.add_option("--logprobs", params.logprobs, "Top-K logprobs per generated token");
}

CLI::App* add_kv_plan(CLI::App& app, KvPlanOptions& options) {
  auto* plan = app.add_subcommand(
      "kv-plan",
      "Weights memory, KV bytes per token and concurrent sequences per context length for a "
      "memory budget (reads config.json only)");
  add_common(*plan, options.common);
  plan->add_option("--memory", options.memory_bytes,
                   "Memory for weights + KV cache, e.g. 16GiB, 80GB")
      ->transform(CLI::AsSizeValue(true))
      ->excludes(plan->add_option("--gpu-memory-utilization", options.gpu_memory_utilization,
                                  "Or this fraction, in (0, 1], of CUDA device 0's memory"));
  plan->add_option("--dtype", options.dtype,
                   "Weights and KV dtype; auto: bfloat16 with --gpu-memory-utilization (the CUDA "
                   "backend's), float32 with --memory (the CPU backend's)")
      ->check(CLI::IsMember({"auto", "float32", "bfloat16", "float16"}))
      ->capture_default_str();
  add_block_size(*plan, options.block_size);
  plan->add_option("--context", options.context_lens, "Context lengths to plan for, e.g. 512,4096")
      ->delimiter(',')
      ->check(CLI::Range(1, std::numeric_limits<std::int32_t>::max()))
      ->capture_default_str();
  plan->add_flag("--json", options.json, "Print one JSON object instead of the table");
  return plan;
}

void check_kv_plan(const KvPlanOptions& options) {
  if (!options.memory_bytes && !options.gpu_memory_utilization) {
    throw CLI::RequiredError("--memory or --gpu-memory-utilization");
  }
  if (options.memory_bytes && *options.memory_bytes < 1) {
    throw CLI::ValidationError("--memory", "must be a positive number of bytes");
  }
  const auto utilization = options.gpu_memory_utilization;
  if (utilization && !(*utilization > 0.0 && *utilization <= 1.0)) {  // NaN fails too
    throw CLI::ValidationError("--gpu-memory-utilization", "must be in (0, 1]");
  }
}

}  // namespace

std::filesystem::path default_model_dir() { return LLMSERVE_DEFAULT_MODEL_DIR; }

Command parse_command_line(int argc, char** argv) {
  CLI::App app{"llmserve: serve Hugging Face causal language models"};
  app.set_version_flag("--version", "llmserve " LLMSERVE_VERSION);
  app.require_subcommand(0, 1);

  GenerateOptions generate;
  generate.common.model_dir = default_model_dir();
  generate.sampling.temperature = 0.0f;
  auto* gen = app.add_subcommand(
      "generate", "Generate continuations offline, through the engine (one prompt or a batch)");
  add_common(*gen, generate.common);
  add_device(*gen, generate.common);
  add_engine_options(*gen, generate.engine);
  add_sampling_options(*gen, generate.sampling);
  auto* prompt = gen->add_option("--prompt", generate.prompt, "Prompt text");
  auto* prompt_ids =
      gen->add_option("--prompt-ids", generate.prompt_ids, "Prompt token ids, e.g. 1,2,3")
          ->delimiter(',');
  auto* prompts_file = gen->add_option("--prompts-file", generate.prompts_file,
                                       "File with one prompt per line (batched together)")
                           ->check(CLI::ExistingFile);
  prompt->excludes(prompt_ids)->excludes(prompts_file);
  prompt_ids->excludes(prompts_file);
  gen->add_option("--num-prompts", generate.num_prompts,
                  "Run this many prompts, cycling through the given ones")
      ->check(CLI::Range(1, 1 << 20));
  gen->add_flag("--json", generate.json, "Print one JSON object per completion");

  ServeOptions serve;
  serve.common.model_dir = default_model_dir();
  auto* srv = app.add_subcommand("serve", "Serve the model over HTTP (the default)");
  add_common(*srv, serve.common);
  add_device(*srv, serve.common);
  add_engine_options(*srv, serve.engine);
  add_server_options(*srv, serve.server);

  TokenizeOptions tokenize;
  tokenize.common.model_dir = default_model_dir();
  auto* tok = app.add_subcommand("tokenize", "Read UTF-8 text on stdin, print {\"ids\": [...]}");
  add_common(*tok, tokenize.common);
  add_device(*tok, tokenize.common);

  KvPlanOptions kv_plan;
  kv_plan.common.model_dir = default_model_dir();
  auto* plan = add_kv_plan(app, kv_plan);

  // Without a subcommand the flags are serve's.
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool named =
      !args.empty() &&
      (args[0] == "serve" || args[0] == "generate" || args[0] == "tokenize" ||
       args[0] == "kv-plan" || args[0] == "--help" || args[0] == "-h" || args[0] == "--version");
  if (!named) args.insert(args.begin(), "serve");
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    app.parse(args);
    if (gen->parsed() && prompt->count() == 0 && prompt_ids->count() == 0 &&
        prompts_file->count() == 0) {
      throw CLI::RequiredError("--prompt, --prompt-ids or --prompts-file");
    }
    if (!std::isfinite(generate.sampling.temperature)) {  // CLI::Range lets NaN through
      throw CLI::ValidationError("--temperature", "must be a finite number");
    }
    if (gen->parsed()) check_options(generate.engine);
    if (plan->parsed()) check_kv_plan(kv_plan);
    if (srv->parsed()) {
      check_options(serve.engine);
      check_options(serve.server);
    }
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return Exit{app.exit(e)};
  } catch (const CLI::ParseError& e) {
    std::cerr << fmt::format("llmserve: {} (see llmserve --help)\n", e.what());
    return Exit{2};
  }
  if (gen->parsed()) return generate;
  if (tok->parsed()) return tokenize;
  if (plan->parsed()) return kv_plan;
  return serve;
}

}  // namespace llmserve::config
