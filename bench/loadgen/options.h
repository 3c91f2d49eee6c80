#pragma once
// llmserve-loadgen's command line (CLI11): the target, the sweep axes and the bounds of each run.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "runner.h"
#include "target.h"

namespace llmserve::loadgen {

struct Options {
  std::string base_url = "http://127.0.0.1:8000";
  Target target;  // from --base-url, --api, --model, --api-key
  // The sweep is every combination of prompt length x load level; the load levels are the
  // concurrencies, or the request rates when --request-rate is given (open loop).
  std::vector<std::int32_t> concurrency{1};
  std::vector<double> request_rate;
  std::vector<std::int32_t> prompt_tokens{128};
  std::int32_t num_requests = 0;  // per run; 0: max(16, 4 x concurrency) or 10 s of arrivals
  RunPlan defaults;  // output tokens, bounds, seed, token ids, metrics sampling, progress
  std::string output = "loadgen.json";
};

struct ExitCode {
  int code = 0;
};

// Parses argv; --help prints and returns ExitCode{0}, a usage error prints and returns
// ExitCode{2}.
std::variant<Options, ExitCode> parse_options(int argc, char** argv);

// The runs of the sweep, in order: for each prompt length, each load level.
std::vector<RunPlan> sweep_plans(const Options& options);

}  // namespace llmserve::loadgen
