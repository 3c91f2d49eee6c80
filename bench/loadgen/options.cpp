#include "options.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <iostream>
#include <stdexcept>

namespace llmserve::loadgen {

std::variant<Options, ExitCode> parse_options(int argc, char** argv) {
  Options o;
  RunPlan& d = o.defaults;
  d.output_tokens = 128;
  d.max_duration_s = 300;
  d.request_timeout_s = 120;
  d.token_id_min = 100;
  d.token_id_max = 5000;
  d.metrics_interval_s = 0.5;
  d.kv_metric = "llmserve_kv_cache_usage_ratio";
  d.progress = true;
  std::string api = "native";
  bool quiet = false;

  CLI::App app{
      "llmserve-loadgen: load an llmserve (native /generate) or any OpenAI-compatible server "
      "(/v1/completions) with streamed requests and report throughput and latency"};
  app.add_option("--base-url", o.base_url, "Server root, http://HOST[:PORT][/PATH]")
      ->capture_default_str();
  app.add_option("--api", api, "native (/generate) or openai (/v1/completions)")
      ->check(CLI::IsMember({"native", "openai"}))
      ->capture_default_str();
  app.add_option("--model", o.target.model,
                 "Model name for --api openai (default: the first of /v1/models)");
  app.add_option("--api-key", o.target.api_key, "Sent as 'Authorization: Bearer KEY'");
  app.add_option("--concurrency", o.concurrency, "Closed-loop clients per run, e.g. 1,2,4,8")
      ->delimiter(',')
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--request-rate", o.request_rate,
                 "Open loop instead: Poisson arrivals at these requests/s, e.g. 1,4,16")
      ->delimiter(',')
      ->check(CLI::Range(1e-3, 1e6));
  app.add_option("--prompt-tokens", o.prompt_tokens, "Prompt lengths, e.g. 32,128,512,2048")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--output-tokens", d.output_tokens, "Tokens per answer (ignore_eos)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--num-requests", o.num_requests,
                 "Requests per run (default: max(16, 4 x concurrency), or 10 s of arrivals)")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--duration", d.max_duration_s,
                 "Seconds a run may take at most; what is unfinished then counts as timeouts")
      ->check(CLI::Range(0.1, 1e6))
      ->capture_default_str();
  app.add_option("--request-timeout", d.request_timeout_s, "Seconds one request may take")
      ->check(CLI::Range(0.1, 1e6))
      ->capture_default_str();
  app.add_option("--temperature", d.temperature, "Sampling temperature (0: greedy)")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  app.add_option("--seed", d.seed, "Seed of the prompts and of the arrival times")
      ->capture_default_str();
  app.add_option("--token-id-min", d.token_id_min, "Prompt token ids are uniform in [min, max]")
      ->check(CLI::Range(0, 1 << 24))
      ->capture_default_str();
  app.add_option("--token-id-max", d.token_id_max, "(below every served model's vocabulary)")
      ->check(CLI::Range(0, 1 << 24))
      ->capture_default_str();
  app.add_option("--metrics-interval", d.metrics_interval_s,
                 "Seconds between samples of the KV-cache gauge on /metrics (0: none)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--kv-metric", d.kv_metric, "That gauge's name (vLLM: vllm:gpu_cache_usage_perc)")
      ->capture_default_str();
  app.add_option("--output", o.output, "Where to write the sweep's JSON")->capture_default_str();
  app.add_flag("--quiet", quiet, "No progress bar");

  try {
    app.parse(argc, argv);
    if (d.token_id_min > d.token_id_max) {
      throw CLI::ValidationError("--token-id-min", "must not exceed --token-id-max");
    }
    try {
      set_base_url(o.target, o.base_url);
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError(e.what());
    }
  } catch (const CLI::Success& e) {
    return ExitCode{app.exit(e)};
  } catch (const CLI::ParseError& e) {
    std::cerr << fmt::format("llmserve-loadgen: {} (see --help)\n", e.what());
    return ExitCode{2};
  }
  o.target.api = api == "native" ? Api::kNative : Api::kOpenAi;
  d.progress = !quiet;
  return o;
}

std::vector<RunPlan> sweep_plans(const Options& options) {
  std::vector<RunPlan> plans;
  for (const std::int32_t prompt_tokens : options.prompt_tokens) {
    const auto add = [&](std::int32_t concurrency, double rate) {
      RunPlan plan = options.defaults;
      plan.prompt_tokens = prompt_tokens;
      plan.concurrency = concurrency;
      plan.request_rate = rate;
      plan.num_requests = options.num_requests > 0 ? options.num_requests
                          : concurrency > 0
                              ? std::max(16, 4 * concurrency)
                              : std::max(16, static_cast<std::int32_t>(std::ceil(rate * 10)));
      plan.seed = options.defaults.seed + plans.size();  // runs differ, the sweep is repeatable
      plans.push_back(plan);
    };
    if (options.request_rate.empty()) {
      for (const std::int32_t c : options.concurrency) add(c, 0);
    } else {
      for (const double rate : options.request_rate) add(0, rate);
    }
  }
  return plans;
}

}  // namespace llmserve::loadgen
