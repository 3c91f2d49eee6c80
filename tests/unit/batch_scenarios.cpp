#include "batch_scenarios.h"

namespace llmserve::engine::testing {

std::vector<Job> mixed_jobs(const EngineTestBase& base) {
  std::mt19937 rng(2024);
  std::vector<std::vector<std::int32_t>> prefixes;
  for (std::size_t len : {16u, 23u, 40u}) prefixes.push_back(base.random_prompt(rng, len));
  std::vector<Job> jobs;
  for (int i = 0; i < 32; ++i) {
    Job job;
    if (i % 3 == 0) {
      job.prompt = prefixes[static_cast<std::size_t>(i / 3) % prefixes.size()];
      const auto tail = base.random_prompt(rng, rng() % 20);
      job.prompt.insert(job.prompt.end(), tail.begin(), tail.end());
    } else {
      job.prompt = base.random_prompt(rng, 1 + rng() % 60);
    }
    job.params = EngineTestBase::greedy(1 + static_cast<std::int32_t>(rng() % 24));
    job.arrival_step = static_cast<std::int32_t>(rng() % 20);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

namespace {

config::EngineConfig chunked(const EngineTestBase&) {
  config::EngineConfig c;
  c.max_num_batched_tokens = 32;  // prompts up to 60 tokens: chunked
  c.max_num_seqs = 16;
  return c;
}

config::EngineConfig preempting(const EngineTestBase& base) {
  config::EngineConfig c;
  c.block_size = 4;
  c.max_model_len = 96;
  c.kv_cache_memory = base.kv_bytes(30, 4);  // 120 tokens for 32 requests
  c.max_num_batched_tokens = 64;
  c.max_num_seqs = 32;
  return c;
}

config::EngineConfig prefix_cached(const EngineTestBase& base) {
  config::EngineConfig c = preempting(base);
  c.kv_cache_memory = base.kv_bytes(60, 4);
  c.enable_prefix_caching = true;
  return c;
}

}  // namespace

const std::vector<Scenario>& batch_scenarios() {
  static const std::vector<Scenario> scenarios = {
      {"chunked", chunked}, {"preempting", preempting}, {"prefix_cached", prefix_cached}};
  return scenarios;
}

}  // namespace llmserve::engine::testing
