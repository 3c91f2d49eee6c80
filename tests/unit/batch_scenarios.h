#pragma once
// The workload and engine configurations of the batch-invariance tests, shared by the CPU test
// (tests/unit/test_engine.cpp) and the CUDA one (tests/cuda/test_cuda_model.cpp) so that both
// backends face the same schedules.
#include <vector>

#include "engine_harness.h"

namespace llmserve::engine::testing {

// 32 requests: prompts of 1..60 tokens (a third start with one of three shared prefixes), 1..24
// new tokens each, arriving over the first 20 steps. The same jobs on every call.
std::vector<Job> mixed_jobs(const EngineTestBase& base);

struct Scenario {
  const char* name;  // "chunked", "preempting" or "prefix_cached"
  config::EngineConfig (*make)(const EngineTestBase&);
};

// chunked: prompts split across steps beside decodes; preempting: a KV cache of 120 tokens for 32
// requests (an explicit --kv-cache-memory, so on any backend); prefix_cached: twice that, with
// prefix caching on.
const std::vector<Scenario>& batch_scenarios();

}  // namespace llmserve::engine::testing
