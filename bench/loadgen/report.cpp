#include "report.h"

#include <fmt/format.h>

namespace llmserve::loadgen {

nlohmann::json sweep_json(const std::string& base_url, const Target& target,
                          const std::vector<RunResult>& runs) {
  nlohmann::json out = {{"tool", "llmserve-loadgen"},
                        {"base_url", base_url},
                        {"api", target.api == Api::kNative ? "native" : "openai"},
                        {"endpoint", request_path(target.api)},
                        {"model", target.model},
                        {"runs", nlohmann::json::array()}};
  for (const RunResult& run : runs) {
    const RunPlan& plan = run.plan;
    nlohmann::json usage = nlohmann::json::array();
    for (const GaugeSample& sample : run.kv_usage) {
      usage.push_back({{"t_s", sample.t_s}, {"value", sample.value}});
    }
    const bool closed = plan.concurrency > 0;
    out["runs"].push_back(
        {{"mode", closed ? "closed_loop" : "poisson"},
         {"concurrency", closed ? nlohmann::json(plan.concurrency) : nlohmann::json(nullptr)},
         {"request_rate", closed ? nlohmann::json(nullptr) : nlohmann::json(plan.request_rate)},
         {"prompt_tokens", plan.prompt_tokens},
         {"output_tokens", plan.output_tokens},
         {"num_requests", plan.num_requests},
         {"temperature", plan.temperature},
         {"seed", plan.seed},
         {"metrics", to_json(run.metrics)},
         {"kv_cache_metric", plan.kv_metric},
         {"kv_cache_usage", usage},
         {"metrics_error",
          run.metrics_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(run.metrics_error)},
         {"errors", run.sample_errors}});
  }
  return out;
}

std::string sweep_table(const std::vector<RunResult>& runs) {
  const auto ms = [](const Distribution& d, double value) {
    return d.count == 0 ? std::string("-") : fmt::format("{:.1f}", value * 1e3);
  };
  std::string table = fmt::format(
      "{:>10} {:>7} {:>7} {:>9} {:>10} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>5} {:>6}\n", "load",
      "prompt", "output", "req/s", "out tok/s", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99",
      "E2E p50", "E2E p99", "429", "errors");
  for (const RunResult& run : runs) {
    const RunMetrics& m = run.metrics;
    const std::string load = run.plan.concurrency > 0 ? fmt::format("c={}", run.plan.concurrency)
                                                      : fmt::format("{}/s", run.plan.request_rate);
    table += fmt::format(
        "{:>10} {:>7} {:>7} {:>9.2f} {:>10.1f} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>5} {:>6}\n",
        load, run.plan.prompt_tokens, run.plan.output_tokens, m.requests_per_s,
        m.output_tokens_per_s, ms(m.ttft, m.ttft.p50), ms(m.ttft, m.ttft.p99),
        ms(m.tpot, m.tpot.p50), ms(m.tpot, m.tpot.p99), ms(m.e2e, m.e2e.p50), ms(m.e2e, m.e2e.p99),
        m.rejected, m.errors);
  }
  return table + "(latencies in ms)\n";
}

}  // namespace llmserve::loadgen
