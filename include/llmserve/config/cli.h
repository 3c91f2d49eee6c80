#pragma once
// Command-line parsing (CLI11) into one options struct per subcommand. Parsing never loads
// anything: usage errors are reported here (exit code 2), runtime errors by the commands (1).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace llmserve::config {

struct CommonOptions {
  std::filesystem::path model_dir;  // --model, or the default model scripts/setup.sh generates
  std::string device = "auto";
  std::string log_level = "info";
};

struct GenerateOptions {
  CommonOptions common;
  std::optional<std::string> prompt;
  std::vector<std::int32_t> prompt_ids;
  std::int32_t max_tokens = 16;
  float temperature = 0.0f;
  std::uint64_t seed = 0;
  bool ignore_eos = false;
  std::int32_t logprobs = 0;
  bool json = false;
};

struct TokenizeOptions {
  CommonOptions common;
};

// Help or --version was printed; exit with `exit_code`.
struct Exit {
  int exit_code = 0;
};

using Command = std::variant<Exit, GenerateOptions, TokenizeOptions>;

// Parses argv. Usage errors print one line to stderr and return Exit{2}.
Command parse_command_line(int argc, char** argv);

std::filesystem::path default_model_dir();

}  // namespace llmserve::config
