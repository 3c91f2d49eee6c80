#include "run_metrics.h"

#include <vector>

namespace llmserve::loadgen {
namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

RunMetrics compute_metrics(std::span<const RequestRecord> records, Clock::time_point start,
                           Clock::time_point end) {
  RunMetrics m;
  std::vector<double> ttft, tpot, itl, e2e;
  for (const RequestRecord& r : records) {
    ++m.requests;
    switch (r.outcome) {
      case Outcome::kOk:
        ++m.succeeded;
        break;
      case Outcome::kRejected:
        ++m.rejected;
        continue;
      case Outcome::kTimeout:
        ++m.timeouts;
        [[fallthrough]];
      default:
        ++m.errors;
        continue;
    }
    m.prompt_tokens += r.prompt_tokens;
    m.output_tokens += r.output_tokens;
    e2e.push_back(seconds(r.finished - r.sent));
    if (r.chunks.empty()) continue;
    ttft.push_back(seconds(r.chunks.front() - r.sent));
    for (std::size_t i = 1; i < r.chunks.size(); ++i) {
      itl.push_back(seconds(r.chunks[i] - r.chunks[i - 1]));
    }
    if (r.output_tokens > 1) {
      tpot.push_back(seconds(r.chunks.back() - r.chunks.front()) / (r.output_tokens - 1));
    }
  }
  m.duration_s = seconds(end - start);
  if (m.duration_s > 0) {
    m.requests_per_s = static_cast<double>(m.succeeded) / m.duration_s;
    m.output_tokens_per_s = static_cast<double>(m.output_tokens) / m.duration_s;
    m.total_tokens_per_s = static_cast<double>(m.prompt_tokens + m.output_tokens) / m.duration_s;
  }
  m.ttft = summarize(std::move(ttft));
  m.tpot = summarize(std::move(tpot));
  m.itl = summarize(std::move(itl));
  m.e2e = summarize(std::move(e2e));
  return m;
}

nlohmann::json to_json(const RunMetrics& m) {
  return {{"requests", m.requests},
          {"succeeded", m.succeeded},
          {"rejected_429", m.rejected},
          {"errors", m.errors},
          {"timeouts", m.timeouts},
          {"prompt_tokens", m.prompt_tokens},
          {"output_tokens", m.output_tokens},
          {"duration_s", m.duration_s},
          {"requests_per_s", m.requests_per_s},
          {"output_tokens_per_s", m.output_tokens_per_s},
          {"total_tokens_per_s", m.total_tokens_per_s},
          {"ttft_s", to_json(m.ttft)},
          {"tpot_s", to_json(m.tpot)},
          {"itl_s", to_json(m.itl)},
          {"e2e_s", to_json(m.e2e)}};
}

}  // namespace llmserve::loadgen
