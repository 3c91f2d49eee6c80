// Sampling on the device (DeviceSampler, kernels/sampling.cuh) against the CPU Sampler, its
// reference, on fresh random logits (normal * 3) for vocabularies of 1000, 50257 and 151936
// tokens. Each row is given to both as the engine would: an engine::SamplerRow for the CPU, and
// a backend::SamplingRow whose edits are built here from LogitEdit's documented rule and whose
// draw comes from a copy of the row's generator, as the CPU Sampler draws. Greedy tokens, errors
// and logprobs must agree exactly (logprobs within 1e-4); a sampled token may differ only where
// rounding moves a cut or the draw across a token boundary, so at least 99% must agree and every
// disagreement must be a token the CPU could have drawn. Every test skips without a CUDA device.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "../../src/backend/cuda/device_sampler.h"
#include "../../src/backend/cuda/sampling_launch.h"
#include "../../src/engine/vocab_math.h"
#include "llmserve/backend/backend_factory.h"
#include "llmserve/engine/device_sampling_rows.h"
#include "llmserve/engine/sampler.h"

namespace llmserve {
namespace {

using backend::LogitEdit;
using backend::SampledToken;
using backend::SamplingRow;
using engine::SampleResult;
using engine::SamplerRow;
using engine::SamplingParams;

static_assert(backend::cuda::kMaxDeviceTopLogprobs == engine::kMaxLogprobs);

constexpr float kInf = std::numeric_limits<float>::infinity();

void check_cuda(cudaError_t status) {
  ASSERT_EQ(status, cudaSuccess) << cudaGetErrorString(status);
}

// Logits of `rows` rows, on the host and, from the first device() on, on the device.
class Logits {
 public:
  Logits(std::int32_t vocab, std::int32_t rows, std::uint32_t seed)
      : vocab_(vocab), host_(static_cast<std::size_t>(vocab) * rows) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    for (float& v : host_) v = normal(rng);
  }
  Logits(const Logits&) = delete;
  Logits& operator=(const Logits&) = delete;
  ~Logits() { cudaFree(device_); }

  std::span<const float> row(std::int32_t r) const {
    return std::span(host_).subspan(static_cast<std::size_t>(r) * vocab_, vocab_);
  }
  std::span<float> edit_row(std::int32_t r) {
    stale_ = true;
    return std::span(host_).subspan(static_cast<std::size_t>(r) * vocab_, vocab_);
  }
  const float* device() {
    if (device_ == nullptr) {
      void* p = nullptr;
      check_cuda(cudaMalloc(&p, host_.size() * sizeof(float)));
      device_ = static_cast<float*>(p);
    }
    if (stale_) {
      check_cuda(cudaMemcpy(device_, host_.data(), host_.size() * sizeof(float),
                            cudaMemcpyHostToDevice));
      stale_ = false;
    }
    return device_;
  }

 private:
  std::int32_t vocab_;
  std::vector<float> host_;
  float* device_ = nullptr;
  bool stale_ = true;
};

struct RowSpec {
  SamplingParams params;
  std::vector<std::int32_t> prompt_ids, output_ids;
  std::int32_t logits_row = 0;
  std::uint64_t seed = 0;
};

bool greedy(const SamplingParams& p) { return p.temperature < engine::kGreedyBelowTemperature; }

// The tokens the CPU Sampler may draw from a row: its probabilities (vocab_math's), then
// top-k, top-p and min-p by a plain sort.
std::vector<bool> drawable(std::span<const float> raw, std::span<const LogitEdit> edits,
                           const SamplingParams& p) {
  std::vector<float> probs(raw.begin(), raw.end());
  for (const LogitEdit& e : edits) {
    float& v = probs[static_cast<std::size_t>(e.id)];
    v += e.bias;
    if (e.penalised) {
      v = v > 0.0f ? v / p.repetition_penalty : v * p.repetition_penalty;
      if (e.output_count > 0) {
        v -= p.frequency_penalty * static_cast<float>(e.output_count) + p.presence_penalty;
      }
    }
    if (e.masked) v = -kInf;
  }
  engine::detail::to_probabilities(probs, *std::max_element(probs.begin(), probs.end()),
                                   p.temperature);
  std::vector<std::int32_t> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int32_t a, std::int32_t b) { return probs[a] > probs[b]; });
  std::size_t keep = probs.size();
  if (p.top_k > 0 && static_cast<std::size_t>(p.top_k) < probs.size()) keep = p.top_k;
  if (p.top_p < 1.0f) {
    double mass = 0.0;
    for (std::size_t j = 0; j < keep; ++j) mass += probs[order[j]];
    double cumulative = 0.0;
    std::size_t size = 0;
    while (size < keep && cumulative < p.top_p * mass) cumulative += probs[order[size++]];
    keep = std::max<std::size_t>(size, 1);
  }
  std::vector<bool> kept(probs.size(), false);
  for (std::size_t j = 0; j < keep; ++j) {
    const float prob = probs[order[j]];
    kept[order[j]] = prob > 0.0f && prob >= p.min_p;
  }
  return kept;
}

struct Outcome {
  std::vector<SampleResult> cpu;
  std::vector<SampledToken> gpu;
};

// Runs the rows through both samplers (vocab from `logits`, EOS ids `eos`).
class Bench {
 public:
  Bench(std::int32_t vocab, std::vector<std::int32_t> eos)
      : vocab_(vocab), eos_(eos), cpu_(vocab, eos), rows_(vocab, std::move(eos)) {}

  Outcome run(Logits& logits, std::span<const RowSpec> specs) {
    const std::size_t n = specs.size();
    // Each side its own copy of every row's generator; the GPU's rows come from the engine's
    // own DeviceSamplingRows, as in a serving step.
    std::vector<std::mt19937_64> cpu_rngs, gpu_rngs;
    std::vector<SamplerRow> cpu_rows(n), gpu_specs(n);
    cpu_rngs.reserve(n);
    gpu_rngs.reserve(n);
    for (std::size_t r = 0; r < n; ++r) {
      const RowSpec& spec = specs[r];
      cpu_rngs.emplace_back(spec.seed);
      gpu_rngs.emplace_back(spec.seed);
      cpu_rows[r] = {logits.row(spec.logits_row), &spec.params, spec.prompt_ids, spec.output_ids,
                     &cpu_rngs[r], spec.logits_row};
      gpu_specs[r] = {{}, &spec.params, spec.prompt_ids, spec.output_ids, &gpu_rngs[r],
                      spec.logits_row};
    }
    const auto gpu_rows = rows_.build(gpu_specs);
    std::vector<std::vector<LogitEdit>> edits;
    for (const SamplingRow& row : gpu_rows) edits.emplace_back(row.edits.begin(), row.edits.end());
    Outcome outcome{std::vector<SampleResult>(n), std::vector<SampledToken>(n)};
    cpu_.sample(cpu_rows, outcome.cpu);
    gpu_.sample(logits.device(), vocab_, gpu_rows, outcome.gpu, nullptr);
    edits_ = std::move(edits);
    return outcome;
  }

  // The edits of row r of the last run().
  std::span<const LogitEdit> edits(std::size_t r) const { return edits_[r]; }
  std::int32_t vocab() const { return vocab_; }
  std::span<const std::int32_t> eos() const { return eos_; }

 private:
  std::int32_t vocab_;
  std::vector<std::int32_t> eos_;
  engine::Sampler cpu_;
  engine::DeviceSamplingRows rows_;
  backend::cuda::DeviceSampler gpu_;
  std::vector<std::vector<LogitEdit>> edits_;
};

void expect_same_logprobs(const SampleResult& cpu, const SampledToken& gpu, const std::string& at) {
  EXPECT_NEAR(gpu.logprob, cpu.logprob, 1e-4) << at;
  ASSERT_EQ(gpu.top_ids.size(), cpu.top.size()) << at;
  ASSERT_EQ(gpu.top_logprobs.size(), cpu.top.size()) << at;
  for (std::size_t j = 0; j < cpu.top.size(); ++j) {
    EXPECT_EQ(gpu.top_ids[j], cpu.top[j].id) << at << " top " << j;
    EXPECT_NEAR(gpu.top_logprobs[j], cpu.top[j].logprob, 1e-4) << at << " top " << j;
  }
}

// Greedy rows must agree exactly; a sampled row may draw another token only if the CPU could
// have drawn it. Returns the number of sampled rows that disagree.
int compare(const Bench& bench, const Logits& logits, std::span<const RowSpec> specs,
            const Outcome& outcome, const std::string& label, std::size_t first_row = 0) {
  int disagree = 0;
  for (std::size_t r = first_row; r < specs.size(); ++r) {
    const SampleResult& cpu = outcome.cpu[r];
    const SampledToken& gpu = outcome.gpu[r];
    const std::string at = label + " row " + std::to_string(r);
    if (cpu.error) {
      ADD_FAILURE() << at << ": the CPU failed: " << *cpu.error;
      continue;
    }
    EXPECT_EQ(gpu.non_finite_id, -1) << at;
    EXPECT_FALSE(gpu.all_masked) << at;
    EXPECT_FALSE(gpu.infinite_after_edits) << at;
    const SamplingParams& params = specs[r].params;
    if (greedy(params)) {
      EXPECT_EQ(gpu.token, cpu.token) << at;
    } else if (gpu.token != cpu.token) {
      ++disagree;
      const auto kept = drawable(logits.row(specs[r].logits_row), bench.edits(r), params);
      EXPECT_TRUE(gpu.token >= 0 && gpu.token < bench.vocab() && kept[gpu.token])
          << at << ": drew " << gpu.token << ", which the CPU could not (it drew " << cpu.token
          << ")";
    }
    if (params.logprobs) {
      if (gpu.token == cpu.token) {
        expect_same_logprobs(cpu, gpu, at);
      } else {
        SampleResult same_token = cpu;
        same_token.logprob = static_cast<float>(
            logits.row(specs[r].logits_row)[gpu.token] -
            engine::detail::log_sum_exp(logits.row(specs[r].logits_row)));
        expect_same_logprobs(same_token, gpu, at);
      }
    } else {
      EXPECT_TRUE(gpu.top_ids.empty()) << at;
    }
  }
  return disagree;
}

std::vector<std::int32_t> random_ids(std::mt19937& rng, std::int32_t vocab, std::size_t n,
                                     std::int32_t distinct) {
  std::uniform_int_distribution<std::int32_t> pick(0, std::min(vocab, distinct) - 1);
  std::uniform_int_distribution<std::int32_t> offset(0, vocab - std::min(vocab, distinct));
  const std::int32_t base = offset(rng);
  std::vector<std::int32_t> ids(n);
  for (auto& id : ids) id = base + pick(rng);
  return ids;
}

class CudaSampling : public ::testing::TestWithParam<std::int32_t> {
 protected:
  void SetUp() override {
    if (backend::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device present";
  }
  std::int32_t vocab() const { return GetParam(); }
  std::vector<std::int32_t> eos() const { return {2, vocab() - 1}; }
};

TEST_P(CudaSampling, GreedyIsTheFirstMaximumWithTheCpusLogprobs) {
  constexpr std::int32_t kRows = 37;
  Logits logits(vocab(), kRows, 11);
  std::mt19937 rng(12);
  std::uniform_int_distribution<std::int32_t> id(0, vocab() - 1);
  std::vector<RowSpec> specs(kRows);
  for (std::int32_t r = 0; r < kRows; ++r) {
    auto row = logits.edit_row(r);
    const float top = *std::max_element(row.begin(), row.end());
    // Exact ties at the top, the lower id to win; some rows tie inside their top 20 too.
    const std::int32_t a = id(rng), b = id(rng);
    row[a] = row[b] = top + 1.0f;
    if (r % 3 == 0) row[id(rng)] = row[id(rng)] = top - 0.5f;
    RowSpec& spec = specs[r];
    spec.params.temperature = r % 5 == 0 ? 1e-6f : 0.0f;
    if (const std::int32_t asked[] = {-1, 0, 5, engine::kMaxLogprobs}; asked[r % 4] >= 0) {
      spec.params.logprobs = asked[r % 4];
    }
    if (r % 2 == 1) {
      spec.prompt_ids = random_ids(rng, vocab(), 40, 200);
      spec.output_ids = random_ids(rng, vocab(), 12, 200);
      spec.params.repetition_penalty = 1.2f;
      spec.params.presence_penalty = 0.3f;
      spec.params.frequency_penalty = 0.2f;
      spec.params.logit_bias = {{id(rng), 4.0f}, {std::min(a, b), -3.0f}};
    }
    spec.logits_row = r;
  }
  Bench bench(vocab(), eos());
  const Outcome outcome = bench.run(logits, specs);
  EXPECT_EQ(compare(bench, logits, specs, outcome, "greedy"), 0);
}

// Logits with many exactly equal values put cuts among equal probabilities, where only the
// id order decides: rounded to halves, or all equal.
enum class Shape { kNormal, kTied, kFlat };

struct SampledCase {
  std::string name;
  SamplingParams params;
  bool history = false;  // random prompt and output ids (penalties, min_tokens)
  bool likely_stops = false;  // EOS and stop ids biased to the top, to be masked
  Shape shape = Shape::kNormal;
};

std::vector<SampledCase> sampled_cases(std::int32_t vocab) {
  auto with = [](auto set) {
    SamplingParams p;
    set(p);
    return p;
  };
  std::vector<SampledCase> cases = {
      {"temperature 0.8", with([](SamplingParams& p) { p.temperature = 0.8f; })},
      {"temperature 1.5", with([](SamplingParams& p) { p.temperature = 1.5f; })},
      {"top_k 1", with([](SamplingParams& p) { p.top_k = 1; })},
      {"top_k 40", with([](SamplingParams& p) { p.top_k = 40; })},
      {"top_k 600", with([](SamplingParams& p) { p.top_k = 600; })},
      {"top_k 5000 temperature 3", with([](SamplingParams& p) {
         p.top_k = 5000;
         p.temperature = 3.0f;
       })},
      {"top_k >= vocab", with([&](SamplingParams& p) { p.top_k = vocab + 5; })},
      {"top_p 0.9", with([](SamplingParams& p) { p.top_p = 0.9f; })},
      {"top_p 0.5", with([](SamplingParams& p) { p.top_p = 0.5f; })},
      {"top_p 0.9 temperature 3", with([](SamplingParams& p) {
         p.top_p = 0.9f;
         p.temperature = 3.0f;
       })},
      {"top_k 50 top_p 0.9", with([](SamplingParams& p) {
         p.top_k = 50;
         p.top_p = 0.9f;
       })},
      {"top_k 1000 top_p 0.8", with([](SamplingParams& p) {
         p.top_k = 1000;
         p.top_p = 0.8f;
       })},
      {"top_k 5000 top_p 0.95 temperature 2", with([](SamplingParams& p) {
         p.top_k = 5000;
         p.top_p = 0.95f;
         p.temperature = 2.0f;
       })},
      {"min_p 0.05", with([](SamplingParams& p) { p.min_p = 0.05f; })},
      {"top_k 100 top_p 0.8 min_p 0.1", with([](SamplingParams& p) {
         p.top_k = 100;
         p.top_p = 0.8f;
         p.min_p = 0.1f;
       })},
      {"penalties", with([](SamplingParams& p) {
         p.repetition_penalty = 1.3f;
         p.presence_penalty = 0.5f;
         p.frequency_penalty = 0.3f;
       }),
       true},
      {"repetition penalty below 1", with([](SamplingParams& p) {
         p.repetition_penalty = 0.7f;
         p.top_p = 0.95f;
       }),
       true},
      {"logit_bias", with([&](SamplingParams& p) {
         p.logit_bias = {{0, 8.0f}, {vocab / 2, 6.5f}, {vocab - 3, -100.0f}, {17, 5.0f}};
       })},
      {"min_tokens", with([&](SamplingParams& p) {
         p.min_tokens = 10;
         p.stop_token_ids = {5, vocab / 3};
       }),
       true, true},
      {"min_tokens ignore_eos", with([&](SamplingParams& p) {
         p.min_tokens = 10;
         p.ignore_eos = true;
         p.stop_token_ids = {5};
       }),
       true, true},
      {"logprobs 0", with([](SamplingParams& p) { p.logprobs = 0; })},
      {"logprobs 5 top_p 0.9", with([](SamplingParams& p) {
         p.logprobs = 5;
         p.top_p = 0.9f;
       })},
      {"logprobs max top_k 20", with([](SamplingParams& p) {
         p.logprobs = engine::kMaxLogprobs;
         p.top_k = 20;
       })},
      // Fewer tokens with a non-zero probability than top-k asks for.
      {"temperature 0.05 top_k 600", with([](SamplingParams& p) {
         p.temperature = 0.05f;
         p.top_k = 600;
       })},
      {"temperature 0.05 top_k 100 top_p 0.9", with([](SamplingParams& p) {
         p.temperature = 0.05f;
         p.top_k = 100;
         p.top_p = 0.9f;
       })},
      {"tied top_k 40", with([](SamplingParams& p) { p.top_k = 40; }), false, false, Shape::kTied},
      {"tied top_p 0.7 logprobs 5", with([](SamplingParams& p) {
         p.top_p = 0.7f;
         p.logprobs = 5;
       }),
       false, false, Shape::kTied},
      {"tied top_k 700 top_p 0.9 temperature 2", with([](SamplingParams& p) {
         p.top_k = 700;
         p.top_p = 0.9f;
         p.temperature = 2.0f;
       }),
       false, false, Shape::kTied},
      {"flat top_k 100 logprobs max", with([](SamplingParams& p) {
         p.top_k = 100;
         p.logprobs = engine::kMaxLogprobs;
       }),
       false, false, Shape::kFlat},
      {"flat top_p 0.3", with([](SamplingParams& p) { p.top_p = 0.3f; }), false, false,
       Shape::kFlat},
  };
  return cases;
}

// Each case draws a few thousand times: 37 rows (19 logits rows, so some rows share one, as
// forked choices do) over many seeds, then a lone row.
TEST_P(CudaSampling, SampledTokensAgreeWithTheCpu) {
  constexpr std::int32_t kRows = 37, kLogitsRows = 19, kBatches = 60, kLoneDraws = 200;
  const std::vector<std::int32_t> eos_ids = eos();
  Bench bench(vocab(), eos_ids);
  std::uint64_t seed = 1000;
  for (const SampledCase& c : sampled_cases(vocab())) {
    SCOPED_TRACE(c.name + ", vocab " + std::to_string(vocab()));
    Logits logits(vocab(), kLogitsRows, static_cast<std::uint32_t>(seed));
    std::mt19937 rng(static_cast<std::uint32_t>(seed));
    for (std::int32_t r = 0; r < kLogitsRows; ++r) {
      for (float& v : logits.edit_row(r)) {
        if (c.shape == Shape::kTied) v = std::round(v * 2.0f) / 2.0f;
        if (c.shape == Shape::kFlat) v = 1.5f;
      }
    }
    if (c.likely_stops) {
      for (std::int32_t r = 0; r < kLogitsRows; ++r) {
        for (auto id : eos_ids) logits.edit_row(r)[id] = 20.0f;
        for (auto id : c.params.stop_token_ids) logits.edit_row(r)[id] = 20.0f;
      }
    }
    std::vector<RowSpec> specs(kRows);
    for (std::int32_t r = 0; r < kRows; ++r) {
      specs[r].params = c.params;
      specs[r].logits_row = r % kLogitsRows;
      if (c.history) {
        specs[r].prompt_ids = random_ids(rng, vocab(), 64, 300);
        specs[r].output_ids = random_ids(rng, vocab(), r % 9, 300);
      }
    }
    int draws = 0, disagree = 0;
    for (int batch = 0; batch < kBatches; ++batch) {
      for (auto& spec : specs) spec.seed = seed++;
      const Outcome outcome = bench.run(logits, specs);
      disagree += compare(bench, logits, specs, outcome, c.name);
      draws += kRows;
      if (c.likely_stops) {
        for (std::int32_t r = 0; r < kRows; ++r) {
          const auto& stops = c.params.stop_token_ids;
          const bool masked = specs[r].output_ids.size() < 10u;
          if (!masked) continue;
          EXPECT_EQ(std::count(stops.begin(), stops.end(), outcome.gpu[r].token), 0);
          if (!c.params.ignore_eos) {
            EXPECT_EQ(std::count(eos_ids.begin(), eos_ids.end(), outcome.gpu[r].token), 0);
          }
        }
      }
    }
    std::vector<RowSpec> lone(1, specs[0]);
    for (int draw = 0; draw < kLoneDraws; ++draw) {
      lone[0].seed = seed++;
      const Outcome outcome = bench.run(logits, lone);
      disagree += compare(bench, logits, lone, outcome, c.name + " (alone)");
      ++draws;
    }
    EXPECT_LE(disagree * 100, draws) << disagree << " of " << draws << " draws differ";
  }
}

TEST_P(CudaSampling, UnsampleableRowsReportWhyAsTheCpuDoes) {
  constexpr std::int32_t kRows = 6;
  Logits logits(vocab(), kRows, 21);
  logits.edit_row(0)[17] = kInf;
  logits.edit_row(0)[3] = std::numeric_limits<float>::quiet_NaN();  // the first non-finite: 3
  logits.edit_row(1)[vocab() - 2] = -kInf;
  logits.edit_row(3)[5] = 3e38f;
  std::vector<RowSpec> specs(kRows);
  for (std::int32_t r = 0; r < kRows; ++r) {
    specs[r].logits_row = r;
    specs[r].seed = 40 + r;
    specs[r].params.logprobs = 3;
  }
  specs[2].params.min_tokens = 1;  // every token a stop token: all masked
  specs[2].params.stop_token_ids.resize(vocab());
  std::iota(specs[2].params.stop_token_ids.begin(), specs[2].params.stop_token_ids.end(), 0);
  specs[3].params.logit_bias = {{5, 3e38f}};  // pushed to +inf
  specs[4].params.temperature = 0.0f;          // and two rows that are fine
  Bench bench(vocab(), eos());
  const Outcome outcome = bench.run(logits, specs);

  auto expect_error = [&](std::int32_t r, const std::string& error) {
    ASSERT_TRUE(outcome.cpu[r].error.has_value()) << "row " << r;
    EXPECT_EQ(*outcome.cpu[r].error, error) << "row " << r;
    EXPECT_EQ(outcome.gpu[r].token, -1) << "row " << r;
    EXPECT_TRUE(outcome.gpu[r].top_ids.empty()) << "row " << r;
  };
  expect_error(0, engine::non_finite_logit_error(3, std::numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(outcome.gpu[0].non_finite_id, 3);
  EXPECT_TRUE(std::isnan(outcome.gpu[0].non_finite_value));
  expect_error(1, engine::non_finite_logit_error(vocab() - 2, -kInf));
  EXPECT_EQ(outcome.gpu[1].non_finite_id, vocab() - 2);
  EXPECT_EQ(outcome.gpu[1].non_finite_value, -kInf);
  expect_error(2, engine::unsampleable_error(true));
  EXPECT_EQ(outcome.gpu[2].non_finite_id, -1);
  EXPECT_TRUE(outcome.gpu[2].all_masked);
  EXPECT_FALSE(outcome.gpu[2].infinite_after_edits);
  expect_error(3, engine::unsampleable_error(false));
  EXPECT_EQ(outcome.gpu[3].non_finite_id, -1);
  EXPECT_FALSE(outcome.gpu[3].all_masked);
  EXPECT_TRUE(outcome.gpu[3].infinite_after_edits);
  EXPECT_EQ(compare(bench, logits, specs, outcome, "fine", 4), 0);
}

TEST_P(CudaSampling, TheSameCallGivesTheSameResults) {
  constexpr std::int32_t kRows = 37;
  Logits logits(vocab(), kRows, 31);
  std::mt19937 rng(32);
  const auto cases = sampled_cases(vocab());
  std::vector<RowSpec> specs(kRows);
  for (std::int32_t r = 0; r < kRows; ++r) {
    specs[r].params = cases[r % cases.size()].params;
    specs[r].params.logprobs = r % 4 == 0 ? 5 : specs[r].params.logprobs;
    specs[r].prompt_ids = random_ids(rng, vocab(), 30, 300);
    specs[r].output_ids = random_ids(rng, vocab(), r % 7, 300);
    specs[r].logits_row = r;
    specs[r].seed = 500 + r;
  }
  Bench bench(vocab(), eos());
  const Outcome first = bench.run(logits, specs);
  const Outcome second = bench.run(logits, specs);
  for (std::int32_t r = 0; r < kRows; ++r) {
    const SampledToken& a = first.gpu[r];
    const SampledToken& b = second.gpu[r];
    EXPECT_EQ(a.token, b.token) << "row " << r;
    EXPECT_EQ(std::bit_cast<std::uint32_t>(a.logprob), std::bit_cast<std::uint32_t>(b.logprob))
        << "row " << r;
    EXPECT_EQ(a.top_ids, b.top_ids) << "row " << r;
    EXPECT_EQ(a.top_logprobs, b.top_logprobs) << "row " << r;
    EXPECT_EQ(a.non_finite_id, b.non_finite_id) << "row " << r;
    EXPECT_EQ(a.all_masked, b.all_masked) << "row " << r;
    EXPECT_EQ(a.infinite_after_edits, b.infinite_after_edits) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, CudaSampling, ::testing::Values(1000, 50257, 151936),
                         [](const ::testing::TestParamInfo<std::int32_t>& vocab) {
                           return "vocab" + std::to_string(vocab.param);
                         });

}  // namespace
}  // namespace llmserve
