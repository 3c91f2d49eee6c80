#include "llmserve/config/cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>

#include "llmserve/common/error.h"

namespace llmserve::config {
namespace {

void add_common(CLI::App& command, CommonOptions& options) {
  command
      .add_option("--model", options.model_dir,
                  "Hugging Face model directory (config.json, *.safetensors, tokenizer files)")
      ->default_str(default_model_dir().string());
  command.add_option("--device", options.device, "auto | cpu | cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  command.add_option("--log-level", options.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
}

void add_engine_options(CLI::App& command, EngineConfig& config) {
  command.add_option("--block-size", config.block_size, "KV cache block size in tokens")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  command
      .add_option("--kv-cache-memory", config.kv_cache_memory,
                  "KV cache budget on the CPU backend, e.g. 512MiB, 4GiB")
      ->transform(CLI::AsSizeValue(true))
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
}

// Combinations of engine flags that cannot work are usage errors too.
void check_engine_options(const EngineConfig& config) {
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

}  // namespace

std::filesystem::path default_model_dir() { return LLMSERVE_DEFAULT_MODEL_DIR; }

Command parse_command_line(int argc, char** argv) {
  CLI::App app{"llmserve: serve Hugging Face causal language models"};
  app.set_version_flag("--version", "llmserve " LLMSERVE_VERSION);
  app.require_subcommand(1);

  GenerateOptions generate;
  generate.common.model_dir = default_model_dir();
  generate.sampling.temperature = 0.0f;
  auto* gen = app.add_subcommand(
      "generate", "Generate continuations offline, through the engine (one prompt or a batch)");
  add_common(*gen, generate.common);
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

  TokenizeOptions tokenize;
  tokenize.common.model_dir = default_model_dir();
  auto* tok = app.add_subcommand("tokenize", "Read UTF-8 text on stdin, print {\"ids\": [...]}");
  add_common(*tok, tokenize.common);

  try {
    app.parse(argc, argv);
    if (gen->parsed() && prompt->count() == 0 && prompt_ids->count() == 0 &&
        prompts_file->count() == 0) {
      throw CLI::RequiredError("--prompt, --prompt-ids or --prompts-file");
    }
    if (!std::isfinite(generate.sampling.temperature)) {  // CLI::Range lets NaN through
      throw CLI::ValidationError("--temperature", "must be a finite number");
    }
    if (gen->parsed()) check_engine_options(generate.engine);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return Exit{app.exit(e)};
  } catch (const CLI::ParseError& e) {
    std::cerr << fmt::format("llmserve: {} (see llmserve --help)\n", e.what());
    return Exit{2};
  }
  if (gen->parsed()) return generate;
  return tokenize;
}

}  // namespace llmserve::config
