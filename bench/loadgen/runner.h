#pragma once
// One load run against the target: a fixed number of requests, sent either by `concurrency`
// closed-loop clients (each sends its next request when the previous one finished) or as an
// open-loop Poisson process at `request_rate` requests/s (arrivals do not wait for answers, as
// real users do not). Optionally samples a gauge of the server's /metrics while it runs.
#include <cstdint>
#include <string>
#include <vector>

#include "request_record.h"
#include "run_metrics.h"
#include "target.h"

namespace llmserve::loadgen {

struct RunPlan {
  std::int32_t concurrency = 0;  // closed loop when > 0
  double request_rate = 0;       // open loop (requests/s) when concurrency is 0
  std::int32_t prompt_tokens = 0;
  std::int32_t output_tokens = 0;
  std::int32_t num_requests = 0;
  double temperature = 0;
  double max_duration_s = 0;      // hard bound: requests unfinished by then count as timeouts
  double request_timeout_s = 0;   // per request
  std::uint64_t seed = 0;         // prompts and arrival times
  std::int32_t token_id_min = 0;  // prompt token ids are uniform in [min, max]
  std::int32_t token_id_max = 0;
  // /metrics sampling: every `metrics_interval_s` (0: never) the value of gauge `kv_metric`.
  double metrics_interval_s = 0;
  std::string kv_metric;
  bool progress = false;
};

struct GaugeSample {
  double t_s = 0;  // since the run started
  double value = 0;
};

struct RunResult {
  RunPlan plan;
  RunMetrics metrics;
  std::vector<GaugeSample> kv_usage;
  std::string metrics_error;               // why sampling stopped early, empty if it did not
  std::vector<std::string> sample_errors;  // the first few distinct request errors
};

RunResult execute_run(const Target& target, const RunPlan& plan);

}  // namespace llmserve::loadgen
