// The CUDA backend's hot ops, timed one by one through the public Backend interface (bf16, device
// 0), against the device's peak memory bandwidth (cuda_bandwidth.h: a measured 1 GiB
// device-to-device copy, and the nominal figure from the runtime's clock and bus width):
// <model> is qwen (Qwen2.5-1.5B's shapes) or gpt2 (GPT-2 small's).
//   BM_DecodeAttention/<model>/batch:B/context:C  paged_attention() of a decode step: GB/s over
//     the bytes it must move (every K and V of the contexts once, q read, out written; block
//     tables left out), % of peak. Block size 16, block tables a random permutation of the cache.
//   BM_Linear/<model>_<layer>/m:M  linear() with the model's weight shapes: TFLOP/s, and GB/s
//     (weights + activations once) for the small M that only stream the weights.
//   BM_DeviceSampling/{greedy,top_p}  sample() of 256 rows of Qwen2's 151936-token vocabulary,
//     greedy or temperature 0.8 + top-p 0.9, as the engine calls it: rows up, kernels, tokens
//     back (real time of the call, which waits for the device).
//   BM_StreamSync  what the timing below adds per batch of launches.
// Timing: an iteration is kLaunches back-to-back launches closed by download() of an empty
// tensor, which only waits for the backend's stream; the manual time per iteration is that wall
// time / kLaunches. So it includes each op's host-side launch cost (an op shorter than its launch
// shows as launch-bound, as it would in an eager step) and 1/kLaunches of one stream wait.
// Weights and K/V are rotated over enough copies to exceed twice the L2 cache, so they stream
// from HBM as in a real step, where the other layers evict them. Skips without a CUDA device.
//   bench_cuda_kernels [--benchmark_filter=Attention] [--benchmark_out=FILE.json]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "cuda_bandwidth.h"
#include "llmserve/backend/backend.h"
#include "llmserve/backend/batch.h"
#include "llmserve/backend/cuda_backend.h"
#include "llmserve/common/logging.h"

namespace {

using namespace llmserve;
using backend::Backend;
using backend::Batch;
using backend::Tensor;
using Clock = std::chrono::steady_clock;

constexpr int kLaunches = 32;
constexpr std::int32_t kBlockSize = 16;
constexpr double kDtypeBytes = 2;  // bf16

// One decode-attention case's setup: the backend's KV cache is laid out for it and filled.
struct AttentionCase {
  std::array<std::int32_t, 5> key{};  // heads, kv_heads, head_dim, batch, context
  backend::KvCacheLayout layout;
  Batch batch;
  Tensor qkv, out;
};

// The backend, and what the benchmarks set up on it, kept while Google Benchmark calls a
// benchmark again (to size its iterations, and per repetition) so that only the first call of a
// case pays for the setup. The setups are declared after the backend: freed before it.
struct Device {
  std::unique_ptr<Backend> backend;
  bench::CudaBandwidth bandwidth;
  AttentionCase attention;                                                       // the latest case
  std::map<std::pair<std::int32_t, std::int32_t>, std::vector<Tensor>> weights;  // by (in, out)
  Tensor sampling_logits;
};
Device* g_device = nullptr;  // set by main() when a device is usable
std::string g_problem;       // why not, otherwise

// Every benchmark body runs through this: without a device it is skipped saying why, and an
// error (out of memory, a shape the backend refuses) skips that benchmark, not the whole run.
template <typename Body>
void guarded(benchmark::State& state, Body&& body) {
  if (g_device == nullptr) {
    state.SkipWithError(g_problem.c_str());
    return;
  }
  try {
    body(*g_device->backend);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// Uniform in [-scale, scale). The values do not change the kernels' work, but random ones (not
// zeros) keep the GPU's power draw, hence its clocks, as on real data. xorshift: hundreds of
// millions of values must not take longer than the benchmark.
std::vector<float> random_values(std::int64_t n, float scale, std::uint64_t seed) {
  std::vector<float> v(static_cast<std::size_t>(n));
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& f : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f = scale * (static_cast<float>(x >> 40) / 8388608.0f - 1.0f);  // 24 bits -> [-1, 1)
  }
  return v;
}

// Copies of a buffer of `bytes` that together exceed twice the L2 cache.
int copies_to_outgrow_l2(double bytes) {
  const double l2 = static_cast<double>(g_device->bandwidth.l2_bytes);
  return static_cast<int>(std::clamp(std::ceil(2.0 * l2 / bytes), 1.0, 256.0));
}

// The benchmark loop: per iteration kLaunches calls of op(i), i counting on across iterations,
// then one wait for the stream. One untimed launch first keeps first-call costs (module loading,
// cuBLAS heuristics) out. Returns the mean seconds per launch.
template <typename Op>
double time_launches(benchmark::State& state, Backend& b, Op&& op) {
  const Tensor none = b.empty({0, 1});
  std::int64_t i = 0;
  op(i++);
  b.download(none, {});
  double total = 0.0;
  for (auto _ : state) {
    const auto start = Clock::now();
    for (int k = 0; k < kLaunches; ++k) op(i++);
    b.download(none, {});
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / kLaunches;
    state.SetIterationTime(seconds);
    total += seconds;
  }
  state.counters["launches_per_sync"] = kLaunches;
  return total / static_cast<double>(state.iterations());
}

// `bytes` moved in `seconds`: GB/s and the share of the measured (copy) and nominal peaks.
void add_bandwidth_counters(benchmark::State& state, double bytes, double seconds) {
  const bench::CudaBandwidth& bw = g_device->bandwidth;
  state.counters["bytes"] = bytes;
  state.counters["GB_per_s"] = bytes / seconds / 1e9;
  state.counters["pct_copy_peak"] = 100.0 * bytes / seconds / bw.measured_bytes_per_s;
  if (bw.nominal_bytes_per_s > 0) {
    state.counters["pct_nominal_peak"] = 100.0 * bytes / seconds / bw.nominal_bytes_per_s;
  }
}

// --- decode attention ---------------------------------------------------------------------------

struct AttentionShape {
  std::int32_t heads, kv_heads, head_dim;
};
constexpr AttentionShape kQwenAttention{12, 2, 128};  // Qwen2.5-1.5B: GQA 6:1
constexpr AttentionShape kGpt2Attention{12, 12, 64};  // GPT-2 small

// Every K and V of the contexts, once.
double attention_kv_bytes(AttentionShape shape, std::int32_t seqs, std::int32_t context) {
  return 2.0 * seqs * context * shape.kv_heads * shape.head_dim * kDtypeBytes;
}

// One sequence of `tokens` tokens over the consecutive blocks from `first_block`: the batch that
// write_kv() fills those blocks through.
Batch fill_batch(std::int32_t first_block, std::int32_t tokens) {
  Batch b;
  for (std::int32_t t = 0; t < tokens; ++t) {
    b.input_ids.push_back(0);
    b.positions.push_back(t);
    b.slot_mapping.push_back(std::int64_t{first_block} * kBlockSize + t);
  }
  b.query_start = {0, tokens};
  b.context_lens = {tokens};
  b.max_blocks_per_seq = tokens / kBlockSize;
  b.block_tables.resize(static_cast<std::size_t>(b.max_blocks_per_seq));
  std::iota(b.block_tables.begin(), b.block_tables.end(), first_block);
  return b;
}

// Random K/V in every slot of every layer, so that attention computes on numbers.
void fill_kv_cache(Backend& b, const backend::KvCacheLayout& layout) {
  const std::int64_t width =
      std::int64_t{layout.num_heads + 2 * layout.num_kv_heads} * layout.head_dim;
  const std::int32_t slots = layout.num_blocks * layout.block_size;
  const std::int32_t chunk = std::min(slots, 16384);  // a multiple of the block size
  const Tensor qkv = b.upload(random_values(chunk * width, 1.0f, 1), {chunk, width});
  const Tensor none = b.empty({0, 1});
  for (std::int32_t first = 0; first < slots; first += chunk) {
    const std::int32_t tokens = std::min(chunk, slots - first);
    const Batch batch = fill_batch(first / kBlockSize, tokens);
    b.begin_step(batch);
    for (std::int32_t layer = 0; layer < layout.num_layers; ++layer) {
      b.write_kv(layer, qkv.view_rows(tokens));
    }
    b.download(none, {});  // `batch` must outlive its step
  }
}

// `seqs` sequences of `context` tokens (a multiple of the block size), each decoding its last
// position; their blocks a random permutation of the cache's, as a block manager hands them out
// after some churn.
Batch decode_batch(std::int32_t seqs, std::int32_t context) {
  Batch b;
  b.max_blocks_per_seq = context / kBlockSize;
  b.block_tables.resize(static_cast<std::size_t>(seqs) * b.max_blocks_per_seq);
  std::iota(b.block_tables.begin(), b.block_tables.end(), 0);
  std::shuffle(b.block_tables.begin(), b.block_tables.end(), std::mt19937(7));
  const std::int32_t last = context - 1;
  b.query_start.push_back(0);
  for (std::int32_t s = 0; s < seqs; ++s) {
    const std::int32_t block = b.block_tables[s * b.max_blocks_per_seq + last / kBlockSize];
    b.input_ids.push_back(0);
    b.positions.push_back(last);
    b.slot_mapping.push_back(std::int64_t{block} * kBlockSize + last % kBlockSize);
    b.query_start.push_back(s + 1);
    b.context_lens.push_back(context);
    b.logits_rows.push_back(s);
  }
  return b;
}

// Lays out and fills the backend's KV cache for `shape` at seqs x context, and builds the step.
void set_up_attention(Backend& b, AttentionCase& c, AttentionShape shape, std::int32_t seqs,
                      std::int32_t context) {
  c = AttentionCase{};  // frees the previous case's tensors first
  c.layout.num_layers = copies_to_outgrow_l2(attention_kv_bytes(shape, seqs, context));
  c.layout.num_blocks = seqs * context / kBlockSize;
  c.layout.block_size = kBlockSize;
  c.layout.num_heads = shape.heads;
  c.layout.num_kv_heads = shape.kv_heads;
  c.layout.head_dim = shape.head_dim;
  b.allocate_kv_cache(c.layout);
  fill_kv_cache(b, c.layout);
  c.batch = decode_batch(seqs, context);
  const std::int64_t width = std::int64_t{shape.heads + 2 * shape.kv_heads} * shape.head_dim;
  c.qkv = b.upload(random_values(seqs * width, 1.0f, 2), {seqs, width});
  c.out = b.empty({seqs, std::int64_t{shape.heads} * shape.head_dim});
  c.key = {shape.heads, shape.kv_heads, shape.head_dim, seqs, context};
}

void BM_DecodeAttention(benchmark::State& state, AttentionShape shape) {
  guarded(state, [&](Backend& b) {
    const auto seqs = static_cast<std::int32_t>(state.range(0));
    const auto context = static_cast<std::int32_t>(state.range(1));
    AttentionCase& c = g_device->attention;
    if (c.key != std::array{shape.heads, shape.kv_heads, shape.head_dim, seqs, context}) {
      set_up_attention(b, c, shape, seqs, context);
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
    b.begin_step(c.batch);
    // Each launch reads another layer's K/V: together they outgrow L2.
    const double seconds = time_launches(state, b, [&](std::int64_t i) {
      b.paged_attention(static_cast<std::int32_t>(i % c.layout.num_layers), c.qkv, scale, c.out);
    });
    const double q_out_bytes = 2.0 * seqs * shape.heads * shape.head_dim * kDtypeBytes;
    add_bandwidth_counters(state, attention_kv_bytes(shape, seqs, context) + q_out_bytes, seconds);
    state.counters["layers_rotated"] = c.layout.num_layers;
  });
}

void attention_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{1, 16, 64, 256}, {512, 2048, 8192}})
      ->ArgNames({"batch", "context"})
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}
BENCHMARK_CAPTURE(BM_DecodeAttention, qwen, kQwenAttention)->Apply(attention_args);
BENCHMARK_CAPTURE(BM_DecodeAttention, gpt2, kGpt2Attention)->Apply(attention_args);

// --- linear layers ------------------------------------------------------------------------------

struct LinearShape {
  std::int32_t in, out;
  bool bias;
  bool logits;  // the LM head writes fp32 logits
};

// Enough copies of a random [out, in] weight to outgrow L2, uploaded on first use.
const std::vector<Tensor>& linear_weights(Backend& b, std::int32_t in, std::int32_t out) {
  std::vector<Tensor>& copies = g_device->weights[{in, out}];
  if (copies.empty()) {
    const auto host = random_values(std::int64_t{in} * out, 0.02f, 3);
    const int n = copies_to_outgrow_l2(static_cast<double>(in) * out * kDtypeBytes);
    for (int c = 0; c < n; ++c) copies.push_back(b.upload(host, {out, in}));
  }
  return copies;
}

void BM_Linear(benchmark::State& state, LinearShape shape) {
  guarded(state, [&](Backend& b) {
    const std::int64_t m = state.range(0);
    const std::vector<Tensor>& weights = linear_weights(b, shape.in, shape.out);
    const Tensor bias =
        shape.bias ? b.upload(random_values(shape.out, 0.02f, 4), {shape.out}) : Tensor();
    const Tensor x = b.upload(random_values(m * shape.in, 1.0f, 5), {m, shape.in});
    Tensor y = b.empty({m, shape.out}, shape.logits ? DType::kF32 : b.compute_dtype());
    const double seconds = time_launches(state, b, [&](std::int64_t i) {
      b.linear(x, weights[static_cast<std::size_t>(i) % weights.size()],
               shape.bias ? &bias : nullptr, y);
    });
    const double flops = 2.0 * static_cast<double>(m) * shape.in * shape.out;
    state.counters["TFLOP_per_s"] = flops / seconds / 1e12;
    const double weight_bytes = static_cast<double>(shape.in) * shape.out * kDtypeBytes;
    const double activation_bytes =
        static_cast<double>(m) * (shape.in * kDtypeBytes + shape.out * (shape.logits ? 4 : 2));
    add_bandwidth_counters(state, weight_bytes + activation_bytes, seconds);
    state.counters["weights_rotated"] = static_cast<double>(weights.size());
  });
}

// Rows of the layers' inputs: decode batches up to 256, prefill chunks up to the default
// 2048-token step budget.
void linear_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{1, 16, 64, 256, 512, 2048}})
      ->ArgNames({"m"})
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}
// The LM head sees one row per sequence that wants logits: at most max_num_seqs (256).
void lm_head_args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{1, 16, 64, 256}})
      ->ArgNames({"m"})
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}
// Qwen2.5-1.5B: hidden 1536, q/k/v fused (12 + 2 + 2 heads of 128, with biases), gate and up
// fused (2 x 8960) as ModelWeights holds them, vocab 151936.
BENCHMARK_CAPTURE(BM_Linear, qwen_qkv, LinearShape{1536, 2048, true, false})->Apply(linear_args);
BENCHMARK_CAPTURE(BM_Linear, qwen_o, LinearShape{1536, 1536, false, false})->Apply(linear_args);
BENCHMARK_CAPTURE(BM_Linear, qwen_gate_up, LinearShape{1536, 17920, false, false})
    ->Apply(linear_args);
BENCHMARK_CAPTURE(BM_Linear, qwen_down, LinearShape{8960, 1536, false, false})->Apply(linear_args);
BENCHMARK_CAPTURE(BM_Linear, qwen_lm_head, LinearShape{1536, 151936, false, true})
    ->Apply(lm_head_args);
// GPT-2 small: hidden 768, MLP 3072, vocab 50257; every linear but the head has a bias.
BENCHMARK_CAPTURE(BM_Linear, gpt2_c_attn, LinearShape{768, 2304, true, false})->Apply(linear_args);
BENCHMARK_CAPTURE(BM_Linear, gpt2_attn_c_proj, LinearShape{768, 768, true, false})
    ->Apply(linear_args);
BENCHMARK_CAPTURE(BM_Linear, gpt2_c_fc, LinearShape{768, 3072, true, false})->Apply(linear_args);
BENCHMARK_CAPTURE(BM_Linear, gpt2_mlp_c_proj, LinearShape{3072, 768, true, false})
    ->Apply(linear_args);
BENCHMARK_CAPTURE(BM_Linear, gpt2_lm_head, LinearShape{768, 50257, false, true})
    ->Apply(lm_head_args);

// --- sampling -----------------------------------------------------------------------------------

void BM_DeviceSampling(benchmark::State& state, bool greedy) {
  guarded(state, [&](Backend& b) {
    if (!b.samples_on_device()) {
      state.SkipWithError("this build's CUDA backend does not sample on the device");
      return;
    }
    constexpr std::int32_t kRows = 256, kVocab = 151936, kHidden = 1536;
    Tensor& logits = g_device->sampling_logits;
    if (!logits.defined()) {
      // Logits as the LM head makes them (fp32 from linear()), spread like N(0, 3^2) as in
      // bench_engine_step's CPU BM_Sampler, so that both samplers face the same distribution:
      // hidden of variance 1 times weights of variance 9 / kHidden, summed over kHidden.
      const Tensor hidden =
          b.upload(random_values(kRows * kHidden, std::sqrt(3.0f), 6), {kRows, kHidden});
      const Tensor head =
          b.upload(random_values(std::int64_t{kVocab} * kHidden, std::sqrt(27.0f / kHidden), 7),
                   {kVocab, kHidden});
      logits = b.empty({kRows, kVocab}, DType::kF32);
      b.linear(hidden, head, nullptr, logits);
    }
    std::mt19937_64 rng(8);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<backend::SamplingRow> rows(kRows);
    for (std::int32_t r = 0; r < kRows; ++r) {
      rows[r].logits_row = r;
      rows[r].temperature = greedy ? 0.0f : 0.8f;
      rows[r].top_p = greedy ? 1.0f : 0.9f;
      rows[r].uniform = uniform(rng);
    }
    std::vector<backend::SampledToken> out(kRows);
    b.sample(logits, rows, out);  // warm-up; sample() waits for the device itself
    const auto start = Clock::now();
    for (auto _ : state) {
      b.sample(logits, rows, out);
      benchmark::DoNotOptimize(out.data());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count() /
                           static_cast<double>(state.iterations());
    add_bandwidth_counters(state, 4.0 * kRows * kVocab, seconds);  // the logits, read once
    state.counters["rows"] = kRows;
  });
}
BENCHMARK_CAPTURE(BM_DeviceSampling, greedy, true)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DeviceSampling, top_p, false)->UseRealTime()->Unit(benchmark::kMillisecond);

// What time_launches adds to each batch of kLaunches: one wait on an idle stream.
void BM_StreamSync(benchmark::State& state) {
  guarded(state, [&](Backend& b) {
    const Tensor none = b.empty({0, 1});
    for (auto _ : state) b.download(none, {});
  });
}
BENCHMARK(BM_StreamSync)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  setup_logging("info");  // to stderr: stdout is the benchmark table
  std::unique_ptr<Device> device;
  if (auto bandwidth = bench::measure_cuda_bandwidth(0, g_problem)) {
    try {
      device = std::make_unique<Device>();
      device->backend = backend::make_cuda_backend(0, DType::kBF16);
      device->bandwidth = *bandwidth;
      bench::report_cuda_bandwidth(*bandwidth);
      g_device = device.get();
    } catch (const std::exception& e) {
      g_problem = e.what();
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
