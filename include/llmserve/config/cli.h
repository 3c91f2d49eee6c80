#pragma once
// Command-line parsing (CLI11) into one options struct per subcommand. Parsing never loads
// anything: usage errors are reported here (exit code 2), runtime errors by the commands (1).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "llmserve/config/engine_config.h"
#include "llmserve/config/server_config.h"
#include "llmserve/engine/sampling_params.h"

namespace llmserve::config {

struct CommonOptions {
  std::filesystem::path model_dir;  // --model, or the default model scripts/setup.sh generates
  std::string device = "auto";
  std::string dtype = "auto";  // backend::make_backend's: bfloat16 on CUDA, float32 on CPU
  std::string log_level = "info";
};

// `generate`: offline runs through the same engine a server uses. One prompt streams its text;
// many (--prompts-file, --num-prompts) are batched together, a quick throughput measurement.
struct GenerateOptions {
  CommonOptions common;
  EngineConfig engine;
  engine::SamplingParams sampling;  // temperature defaults to 0 (greedy) here
  std::optional<std::string> prompt;
  std::vector<std::int32_t> prompt_ids;
  std::optional<std::filesystem::path> prompts_file;  // one prompt per line
  std::int32_t num_prompts = 0;  // 0: each prompt once; else this many, cycling through them
  bool json = false;
};

// `serve` (also what `llmserve` with no subcommand runs).
struct ServeOptions {
  CommonOptions common;
  EngineConfig engine;
  ServerConfig server;
};

struct TokenizeOptions {
  CommonOptions common;
};

// `kv-plan`: what a memory budget holds for a model (engine::plan_memory), from config.json alone.
// Exactly one of memory_bytes and gpu_memory_utilization is set.
struct KvPlanOptions {
  CommonOptions common;                          // its device is not used
  std::optional<std::int64_t> memory_bytes;      // --memory: weights + KV cache
  std::optional<double> gpu_memory_utilization;  // or this fraction, in (0, 1], of CUDA device 0
  std::string dtype = "auto";  // auto: bfloat16 on a GPU budget, float32 (the CPU backend's) else
  std::int32_t block_size = 16;
  std::vector<std::int32_t> context_lens = {512, 2048, 8192, 32768};
  bool json = false;
};

// Help or --version was printed; exit with `exit_code`.
struct Exit {
  int exit_code = 0;
};

using Command = std::variant<Exit, ServeOptions, GenerateOptions, TokenizeOptions, KvPlanOptions>;

// Parses argv; without a subcommand it is `serve`. Usage errors print one line to stderr and
// return Exit{2}.
Command parse_command_line(int argc, char** argv);

std::filesystem::path default_model_dir();

}  // namespace llmserve::config
