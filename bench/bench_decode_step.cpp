// Whole engine steps on the CUDA backend (bf16, device 0) for the checkpoint in
// $LLMSERVE_BENCH_MODEL (skipped when unset or without a device); scripts/gpu_check.sh `step`
// runs it on GPT-2-small- and Qwen2.5-1.5B-shaped random checkpoints:
//   BM_DecodeStep/batch:B/eager:E  B greedy sequences with kPromptTokens-token prompts, all
//     prefilled, then kSteps timed steps in which each decodes one token; with CUDA graphs
//     (eager 0) or op by op (eager 1, --enforce-eager; graph_steps_pct says which ran). Reports
//     tokens/s and the step's bandwidth floor: bytes it must read (the weights once, every
//     sequence's K/V once) over the measured copy bandwidth (cuda_bandwidth.h); pct_copy_peak =
//     floor / step time.
//   BM_Prefill/prompt:P  one P-token prompt with max_tokens 1: one step. Tokens/s and TFLOP/s.
// A step is EngineCore::step() as the server runs it: scheduling, batch upload, the forward
// pass, sampling, posting outputs; it returns with the sampled tokens on the host (it waits for
// the GPU), so its wall time is its cost. Each case loads the model into a fresh backend and
// engine with the server's default EngineConfig, as a new `llmserve serve` would (a reused
// ModelRunner would also keep the graphs an earlier engine recorded on it).
//   LLMSERVE_BENCH_MODEL=DIR bench_decode_step [--benchmark_out=FILE.json]
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cuda_bandwidth.h"
#include "llmserve/backend/cuda_backend.h"
#include "llmserve/common/error.h"
#include "llmserve/common/logging.h"
#include "llmserve/engine/engine_core.h"
#include "llmserve/engine/kv_cache_plan.h"
#include "llmserve/model/model_runner.h"
#include "llmserve/model/model_weights.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace {

using namespace llmserve;
using Clock = std::chrono::steady_clock;

constexpr std::int32_t kPromptTokens = 512;
constexpr std::int32_t kWarmupSteps = 4;  // first decode steps of a batch size may set things up
constexpr std::int32_t kSteps = 64;
constexpr std::size_t kDtypeBytes = 2;  // bf16

std::optional<bench::CudaBandwidth> g_bandwidth;  // set by main() when a device is usable
std::string g_problem;                            // why not, otherwise

// Every benchmark body runs through this: it is skipped, saying why, without a model or a
// device, and an error (out of memory, a prompt longer than the model's positions) skips that
// case, not the whole run.
template <typename Body>
void guarded(benchmark::State& state, Body&& body) {
  const char* dir = std::getenv("LLMSERVE_BENCH_MODEL");
  if (dir == nullptr || *dir == '\0') {
    state.SkipWithError("set LLMSERVE_BENCH_MODEL to a checkpoint directory");
    return;
  }
  if (!g_bandwidth) {
    state.SkipWithError(g_problem.c_str());
    return;
  }
  try {
    body(std::filesystem::path(dir));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// Members in destruction order: the runner's weights go before their backend.
struct Model {
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<model::ModelRunner> runner;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};

Model load_model(const std::filesystem::path& dir) {
  Model m;
  m.tokenizer = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_directory(dir));
  m.backend = backend::make_cuda_backend(0, DType::kBF16);
  m.runner = std::make_unique<model::ModelRunner>(model::ModelRunner::load(dir, *m.backend));
  return m;
}

// The ids llmserve-loadgen draws its prompts from by default: ordinary tokens in both vocabularies.
std::vector<std::int32_t> random_prompt(std::mt19937& rng, std::int64_t length) {
  std::uniform_int_distribution<std::int32_t> id(100, 5000);
  std::vector<std::int32_t> prompt(static_cast<std::size_t>(length));
  for (auto& t : prompt) t = id(rng);
  return prompt;
}

engine::SamplingParams greedy(std::int32_t max_tokens) {
  engine::SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

// Parameters a decode step reads: all of them but the embedding tables, of which it reads only
// its tokens' rows (a tied LM head is the token table, read in full, so that one counts).
double decode_weight_bytes(const model::ModelSpec& spec) {
  double params = static_cast<double>(model::parameter_count(spec));
  const double hidden = spec.hidden_size;
  if (!spec.tie_word_embeddings) params -= spec.vocab_size * hidden;
  if (spec.positions == model::PositionKind::kLearned) {
    params -= spec.max_position_embeddings * hidden;
  }
  return params * kDtypeBytes;
}

// Floating-point operations of one P-token prompt (2 per multiply-add): every layer's linear
// weights for each token, the LM head for the one logits row, and causal attention (QK^T and PV
// of token i over positions 0..i, every query head).
double prefill_flops(const model::ModelSpec& spec, double p) {
  const double hidden = spec.hidden_size, q = spec.q_size(), kv = spec.kv_size();
  const double mlp = (spec.activation == model::Activation::kSiluGated ? 3.0 : 2.0) * hidden *
                     spec.intermediate_size;
  const double linear = p * spec.num_layers * (hidden * (q + 2 * kv) + q * hidden + mlp);
  const double head = static_cast<double>(spec.vocab_size) * hidden;
  const double attention = spec.num_layers * 2.0 * q * (p * (p + 1) / 2);
  return 2.0 * (linear + head + attention);
}

void BM_DecodeStep(benchmark::State& state) {
  guarded(state, [&](const std::filesystem::path& dir) {
    const auto seqs = static_cast<std::int32_t>(state.range(0));
    Model m = load_model(dir);
    config::EngineConfig config;
    config.enforce_eager = state.range(1) != 0;
    engine::EngineCore engine(*m.runner, *m.tokenizer, config);
    const model::ModelSpec& spec = m.runner->spec();

    // The prompts go through the step budget a few at a time, and a sequence decodes from the
    // step that ends its prompt on: contexts end up spread by up to that many steps.
    const std::int32_t fill_steps = seqs * kPromptTokens / config.max_num_batched_tokens + 1;
    std::mt19937 rng(1);
    std::vector<engine::RequestHandle> handles;
    for (std::int32_t s = 0; s < seqs; ++s) {
      handles.push_back(engine.submit(
          {random_prompt(rng, kPromptTokens), greedy(fill_steps + kWarmupSteps + kSteps + 8)}));
    }
    std::vector<bool> decoding(handles.size(), false);
    for (std::size_t started = 0; started < handles.size();) {
      if (!engine.step()) throw Error("the engine went idle before every prompt was in");
      for (std::size_t i = 0; i < handles.size(); ++i) {
        auto out = handles[i].poll();
        if (out && out->error) throw Error("{}", *out->error);
        if (out && out->usage.completion_tokens > 0 && !decoding[i]) {
          decoding[i] = true;
          ++started;
        }
      }
    }
    for (std::int32_t i = 0; i < kWarmupSteps; ++i) engine.step();

    const std::int64_t generated_before = engine.stats().generation_tokens;
    const std::int64_t replayed_before = m.runner->num_replayed_steps();
    const auto start = Clock::now();
    for (auto _ : state) engine.step();
    const double step_s =
        std::chrono::duration<double>(Clock::now() - start).count() / state.iterations();
    const auto stats = engine.stats();
    if (stats.generation_tokens - generated_before != std::int64_t{seqs} * state.iterations()) {
      state.SkipWithError("a timed step was not one decode token for every sequence");
      return;
    }

    // A sequence with g generated tokens attends over prompt + g positions; all gain one a step.
    const double mean_total_context = static_cast<double>(seqs) * kPromptTokens +
                                      static_cast<double>(generated_before) +
                                      seqs * (state.iterations() - 1) / 2.0;
    const double kv_bytes =
        mean_total_context * static_cast<double>(engine::kv_bytes_per_token(spec, kDtypeBytes));
    const double weight_bytes = decode_weight_bytes(spec);
    const double bytes = weight_bytes + kv_bytes;
    const double floor_s = bytes / g_bandwidth->measured_bytes_per_s;
    state.counters["tokens_per_s"] = seqs / step_s;
    // 100 when every timed step replayed a CUDA graph, 0 when all ran op by op.
    state.counters["graph_steps_pct"] =
        100.0 * static_cast<double>(m.runner->num_replayed_steps() - replayed_before) /
        static_cast<double>(state.iterations());
    state.counters["mean_context"] = mean_total_context / seqs;
    state.counters["weight_bytes"] = weight_bytes;
    state.counters["kv_bytes"] = kv_bytes;
    state.counters["GB_per_s"] = bytes / step_s / 1e9;
    state.counters["floor_ms"] = floor_s * 1e3;
    state.counters["pct_copy_peak"] = 100.0 * floor_s / step_s;
    if (g_bandwidth->nominal_bytes_per_s > 0) {
      state.counters["pct_nominal_peak"] =
          100.0 * bytes / g_bandwidth->nominal_bytes_per_s / step_s;
    }
  });
}
BENCHMARK(BM_DecodeStep)
    ->ArgsProduct({{1, 16, 64, 256}, {0, 1}})
    ->ArgNames({"batch", "eager"})
    ->Iterations(kSteps)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_Prefill(benchmark::State& state) {
  guarded(state, [&](const std::filesystem::path& dir) {
    const std::int64_t prompt_tokens = state.range(0);
    Model m = load_model(dir);
    engine::EngineCore engine(*m.runner, *m.tokenizer, config::EngineConfig{});
    std::mt19937 rng(2);
    // One request, one step (prompts up to the 2048-token step budget go in one chunk); only
    // the step is timed.
    auto prefill = [&] {
      auto handle = engine.submit({random_prompt(rng, prompt_tokens), greedy(1)});
      const auto start = Clock::now();
      engine.step();
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      const auto out = handle.poll();
      if (out && out->error) throw Error("{}", *out->error);
      if (!out || !out->finished) throw Error("the prompt took more than one step");
      return seconds;
    };
    prefill();  // warm-up
    double total_s = 0.0;
    for (auto _ : state) {
      const double seconds = prefill();
      state.SetIterationTime(seconds);
      total_s += seconds;
    }
    const double prefill_s = total_s / static_cast<double>(state.iterations());
    const double flops = prefill_flops(m.runner->spec(), static_cast<double>(prompt_tokens));
    state.counters["tokens_per_s"] = static_cast<double>(prompt_tokens) / prefill_s;
    state.counters["TFLOP_per_s"] = flops / prefill_s / 1e12;
  });
}
BENCHMARK(BM_Prefill)
    ->Arg(512)
    ->Arg(2048)
    ->ArgName("prompt")
    ->Iterations(8)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  setup_logging("info");  // to stderr: stdout is the benchmark table
  g_bandwidth = bench::measure_cuda_bandwidth(0, g_problem);
  if (g_bandwidth) bench::report_cuda_bandwidth(*g_bandwidth);
  if (const char* dir = std::getenv("LLMSERVE_BENCH_MODEL"); dir != nullptr && *dir != '\0') {
    try {
      const model::ModelSpec spec = model::load_model_spec(dir);
      benchmark::AddCustomContext("model", fmt::format("{} ({}, {} layers, hidden {}, vocab {})",
                                                       dir, spec.architecture_name, spec.num_layers,
                                                       spec.hidden_size, spec.vocab_size));
      benchmark::AddCustomContext("model_parameters", std::to_string(model::parameter_count(spec)));
      benchmark::AddCustomContext("decode_weight_bytes",
                                  fmt::format("{:.0f}", decode_weight_bytes(spec)));
    } catch (const std::exception& e) {
      benchmark::AddCustomContext("model_error", e.what());
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
