// CPU forward throughput: prefill tokens/s for one prompt and decode tokens/s for a batch of
// sequences each holding `context` tokens of KV, on the tiny test checkpoints and the default
// model. Run: build/bench/bench_forward (fixtures come from ctest -R make_tiny_models).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <memory>
#include <numeric>

#include "llmserve/backend/cpu_backend.h"
#include "llmserve/model/model_runner.h"

namespace {

using llmserve::backend::Batch;
using llmserve::model::ModelRunner;

constexpr std::int32_t kBlockSize = 16;

struct LoadedModel {
  std::unique_ptr<llmserve::backend::Backend> backend;
  std::unique_ptr<ModelRunner> runner;
};

ModelRunner& model(const std::string& dir) {
  static std::map<std::string, LoadedModel> cache;
  auto& loaded = cache[dir];
  if (!loaded.runner) {
    loaded.backend = llmserve::backend::make_cpu_backend();
    loaded.runner = std::make_unique<ModelRunner>(ModelRunner::load(dir, *loaded.backend));
    loaded.runner->allocate_kv_cache(1024, kBlockSize);
  }
  return *loaded.runner;
}

// `num_seqs` sequences, each with `new_tokens` new tokens ending at position `context` - 1, every
// sequence on its own run of blocks; only each sequence's last token wants logits.
Batch make_batch(std::int32_t num_seqs, std::int32_t new_tokens, std::int32_t context) {
  Batch batch;
  batch.max_blocks_per_seq = (context + kBlockSize - 1) / kBlockSize;
  batch.query_start = {0};
  for (std::int32_t s = 0; s < num_seqs; ++s) {
    for (std::int32_t k = 0; k < batch.max_blocks_per_seq; ++k) {
      batch.block_tables.push_back(s * batch.max_blocks_per_seq + k);
    }
    for (std::int32_t p = context - new_tokens; p < context; ++p) {
      batch.input_ids.push_back((p * 7919 + s) % 50000);
      batch.positions.push_back(p);
      batch.slot_mapping.push_back(std::int64_t{batch.block_tables[static_cast<std::size_t>(
                                       s * batch.max_blocks_per_seq + p / kBlockSize)]} *
                                       kBlockSize +
                                   p % kBlockSize);
    }
    batch.query_start.push_back(batch.num_tokens());
    batch.context_lens.push_back(context);
    batch.logits_rows.push_back(batch.num_tokens() - 1);
  }
  return batch;
}

void run_steps(benchmark::State& state, const std::string& dir, const Batch& batch) {
  ModelRunner& runner = model(dir);
  for (auto _ : state) benchmark::DoNotOptimize(runner.execute(batch).data());
  state.SetItemsProcessed(state.iterations() * batch.num_tokens());
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(batch.num_tokens()),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Prefill(benchmark::State& state, const std::string& dir) {
  const auto len = static_cast<std::int32_t>(state.range(0));
  run_steps(state, dir, make_batch(1, len, len));
}

void BM_Decode(benchmark::State& state, const std::string& dir) {
  const auto batch_size = static_cast<std::int32_t>(state.range(0));
  run_steps(state, dir, make_batch(batch_size, 1, static_cast<std::int32_t>(state.range(1))));
}

const std::string kFixtures = LLMSERVE_FIXTURES_DIR;

BENCHMARK_CAPTURE(BM_Prefill, gpt2_tiny, kFixtures + "/gpt2-f32")
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Prefill, qwen2_tiny, kFixtures + "/qwen2-f32")
    ->Arg(128)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Prefill, default_gpt2, std::string(LLMSERVE_DEFAULT_MODEL_DIR))
    ->Arg(128)
    ->Arg(512)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Decode, gpt2_tiny, kFixtures + "/gpt2-f32")
    ->Args({1, 64})
    ->Args({8, 64})
    ->Args({32, 64})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Decode, qwen2_tiny, kFixtures + "/qwen2-f32")
    ->Args({1, 64})
    ->Args({8, 64})
    ->Args({32, 64})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Decode, default_gpt2, std::string(LLMSERVE_DEFAULT_MODEL_DIR))
    ->Args({1, 256})
    ->Args({8, 256})
    ->Args({32, 256})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
