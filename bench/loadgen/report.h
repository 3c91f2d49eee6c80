#pragma once
// The results of a sweep: one JSON document per invocation (what scripts/plot_results.py reads)
// and a table on stdout for the person watching.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runner.h"
#include "target.h"

namespace llmserve::loadgen {

// {"tool", "base_url", "api", "model", "runs": [{"mode", "concurrency", "request_rate",
//   "prompt_tokens", "output_tokens", "num_requests", "metrics": {...}, "kv_cache_usage":
//   [{"t_s", "value"}...], "errors": [...]}, ...]}
nlohmann::json sweep_json(const std::string& base_url, const Target& target,
                          const std::vector<RunResult>& runs);

// One line per run: load, prompt length, requests/s, output tok/s, TTFT / TPOT / E2E p50 and
// p99 in ms, 429s and errors.
std::string sweep_table(const std::vector<RunResult>& runs);

}  // namespace llmserve::loadgen
