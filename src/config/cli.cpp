#include "llmserve/config/cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>

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

}  // namespace

std::filesystem::path default_model_dir() { return LLMSERVE_DEFAULT_MODEL_DIR; }

Command parse_command_line(int argc, char** argv) {
  CLI::App app{"llmserve: serve Hugging Face causal language models"};
  app.set_version_flag("--version", "llmserve " LLMSERVE_VERSION);
  app.require_subcommand(1);

  GenerateOptions generate;
  generate.common.model_dir = default_model_dir();
  auto* gen = app.add_subcommand("generate", "Generate a continuation of one prompt (offline)");
  add_common(*gen, generate.common);
  auto* prompt = gen->add_option("--prompt", generate.prompt, "Prompt text");
  auto* prompt_ids =
      gen->add_option("--prompt-ids", generate.prompt_ids, "Prompt token ids, e.g. 1,2,3")
          ->delimiter(',');
  prompt->excludes(prompt_ids);
  gen->add_option("--max-tokens", generate.max_tokens, "Tokens to generate")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gen->add_option("--temperature", generate.temperature, "0 = greedy")
      ->check(CLI::Range(0.0f, 100.0f))
      ->capture_default_str();
  gen->add_option("--seed", generate.seed, "Sampling seed")->capture_default_str();
  gen->add_flag("--ignore-eos", generate.ignore_eos, "Keep generating after EOS");
  gen->add_option("--logprobs", generate.logprobs, "Top-K logprobs per generated token")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  gen->add_flag("--json", generate.json, "Print one JSON object");

  TokenizeOptions tokenize;
  tokenize.common.model_dir = default_model_dir();
  auto* tok = app.add_subcommand("tokenize", "Read UTF-8 text on stdin, print {\"ids\": [...]}");
  add_common(*tok, tokenize.common);

  try {
    app.parse(argc, argv);
    if (gen->parsed() && prompt->count() == 0 && prompt_ids->count() == 0) {
      throw CLI::RequiredError("--prompt or --prompt-ids");
    }
    if (!std::isfinite(generate.temperature)) {  // CLI::Range lets NaN through
      throw CLI::ValidationError("--temperature", "must be a finite number");
    }
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
