// The engine's host-side cost per step, without the model: scheduling, batch building and the
// per-token bookkeeping (KV slot accounting, prefix-cache commit, detokenizing, stop checking),
// at 1, 64 and 256 running sequences in steady decode. And the CPU sampler over a Qwen-sized
// vocabulary. DESIGN.md section 10 budgets the former well under 1 ms at 256 sequences.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <random>

#include "llmserve/engine/batch_builder.h"
#include "llmserve/engine/sampler.h"
#include "llmserve/engine/scheduler.h"
#include "llmserve/engine/stop_checker.h"
#include "llmserve/tokenizer/incremental_detokenizer.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace {

using namespace llmserve;
using namespace llmserve::engine;

constexpr std::int32_t kPromptLen = 128;
constexpr std::int32_t kMaxOutput = 512;  // then the sequence starts over (a new request)

struct Client {
  std::unique_ptr<Sequence> seq;
  tokenizer::IncrementalDetokenizer detokenizer;
  StopChecker stop_checker;
};

void BM_EngineStepHostSide(benchmark::State& state) {
  const auto num_seqs = static_cast<std::int32_t>(state.range(0));
  const auto tokenizer = tokenizer::Tokenizer::from_directory(
      std::filesystem::path(LLMSERVE_FIXTURES_DIR) / "gpt2-f32");
  const std::int32_t bs = 16;
  const std::int32_t blocks_per_seq = (kPromptLen + kMaxOutput + bs) / bs;
  BlockManager blocks(num_seqs * blocks_per_seq, bs, /*enable_prefix_caching=*/true);
  Scheduler scheduler({num_seqs, std::max(2048, num_seqs)}, blocks);
  SamplingParams params;
  params.max_tokens = kMaxOutput;
  params.stop = {"\n\n", "###"};
  std::mt19937 rng(1);
  std::vector<Client> clients;
  for (std::int32_t i = 0; i < num_seqs; ++i) {
    std::vector<std::int32_t> prompt(kPromptLen);
    for (auto& t : prompt) t = static_cast<std::int32_t>(rng() % 50000);
    clients.push_back({std::make_unique<Sequence>(nullptr, 0, std::move(prompt), 0),
                       tokenizer::IncrementalDetokenizer(tokenizer), StopChecker(params, {50256})});
    scheduler.add(clients.back().seq.get());
  }
  std::vector<std::int32_t> sampled(4096);
  for (auto& t : sampled) t = static_cast<std::int32_t>(rng() % 50000);
  std::size_t next_token = 0;
  backend::Batch batch;
  auto step = [&] {
    const SchedulerOutput& out = scheduler.schedule();
    build_batch(out, bs, batch);
    benchmark::DoNotOptimize(batch.slot_mapping.data());
    for (const auto& [seq, n] : out.scheduled) {
      seq->num_computed_tokens += n;
      blocks.commit(seq->block_table, seq->tokens(), seq->num_computed_tokens);
    }
    for (auto& c : clients) {
      if (c.seq->num_uncomputed_tokens() > 0) continue;
      const std::int32_t token = sampled[next_token++ % sampled.size()];
      c.seq->append_token(token);
      const auto update =
          c.stop_checker.append(token, c.detokenizer.push(token), c.seq->num_output_tokens());
      benchmark::DoNotOptimize(update.text.data());
      if (c.seq->num_output_tokens() >= kMaxOutput) {  // a new request with the same prompt
        blocks.free(c.seq->block_table);
        c.seq->status = SequenceStatus::kFinished;
        scheduler.remove_finished();
        std::vector<std::int32_t> prompt(c.seq->prompt_ids().begin(), c.seq->prompt_ids().end());
        c.seq = std::make_unique<Sequence>(nullptr, 0, std::move(prompt), 0);
        c.stop_checker = StopChecker(params, {50256});
        scheduler.add(c.seq.get());
      }
    }
  };
  for (int i = 0; i < 200; ++i) step();  // past the prefills, into steady decode
  for (auto _ : state) step();
  state.counters["seqs"] = num_seqs;
}
BENCHMARK(BM_EngineStepHostSide)->Arg(1)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

// One sampler call over `rows` rows of a 151936-token vocabulary (Qwen2's).
void BM_Sampler(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const bool greedy = state.range(1) == 0;
  const std::int32_t vocab = 151936;
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> logits(rows * vocab);
  for (auto& x : logits) x = dist(rng);
  SamplingParams params;
  params.temperature = greedy ? 0.0f : 0.8f;
  params.top_p = greedy ? 1.0f : 0.9f;
  std::vector<std::int32_t> history(64, 17);
  std::vector<std::mt19937_64> rngs(rows);
  std::vector<SamplerRow> batch;
  for (std::size_t r = 0; r < rows; ++r) {
    batch.push_back({std::span<const float>(logits).subspan(r * vocab, vocab), &params, history,
                     history, &rngs[r]});
  }
  Sampler sampler(vocab, {151643});
  std::vector<SampleResult> results(rows);
  for (auto _ : state) {
    sampler.sample(batch, results);
    benchmark::DoNotOptimize(results.data());
  }
  state.counters["rows"] = static_cast<double>(rows);
}
BENCHMARK(BM_Sampler)
    ->ArgsProduct({{1, 64, 256}, {0, 1}})
    ->ArgNames({"rows", "top_p"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
