#pragma once
// The per-run statistics the load generator reports, computed from request records alone (pure,
// unit-tested on synthetic timelines). Definitions, all over successful requests, in seconds:
//   TTFT  sent -> first output-carrying event
//   TPOT  (last output event - first output event) / (output_tokens - 1), one sample per request
//         with at least two output tokens: the decode time per token after the first
//   ITL   every gap between two consecutive output events of a request, pooled over requests
//   E2E   sent -> stream complete
// Throughput is over the run's wall time (first request sent -> last one finished).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>

#include "request_record.h"
#include "statistics.h"

namespace llmserve::loadgen {

struct RunMetrics {
  std::int64_t requests = 0;  // every record, whatever its outcome
  std::int64_t succeeded = 0;
  std::int64_t rejected = 0;       // 429
  std::int64_t errors = 0;         // HTTP errors, transport errors and timeouts
  std::int64_t timeouts = 0;       // included in errors
  std::int64_t prompt_tokens = 0;  // of successful requests
  std::int64_t output_tokens = 0;  // of successful requests
  double duration_s = 0;
  double requests_per_s = 0;  // successful requests / duration
  double output_tokens_per_s = 0;
  double total_tokens_per_s = 0;  // prompt + output
  Distribution ttft, tpot, itl, e2e;
};

RunMetrics compute_metrics(std::span<const RequestRecord> records, Clock::time_point start,
                           Clock::time_point end);

nlohmann::json to_json(const RunMetrics& metrics);

}  // namespace llmserve::loadgen
