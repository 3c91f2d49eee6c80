// The engine's half of sampling on the device, checked on the host: the sparse edits it builds,
// applied to the raw logits as backend::LogitEdit documents, must give the logits the CPU Sampler
// transforms (so greedy picks agree), each sampled row must take exactly the draw the CPU Sampler
// would take from its generator, and results map back with the CPU Sampler's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "llmserve/engine/device_sampling_rows.h"

namespace llmserve::engine {
namespace {

constexpr std::int32_t kVocab = 300;
const std::vector<std::int32_t> kEos{7, 299};

// The contract of backend::LogitEdit, applied on the host.
std::vector<float> edited_logits(std::span<const float> logits, const backend::SamplingRow& row) {
  std::vector<float> x(logits.begin(), logits.end());
  for (const auto& e : row.edits) {
    float& v = x[static_cast<std::size_t>(e.id)];
    v += e.bias;
    if (e.penalised) {
      v = v > 0.0f ? v / row.repetition_penalty : v * row.repetition_penalty;
      if (e.output_count > 0) {
        v -= row.frequency_penalty * static_cast<float>(e.output_count) + row.presence_penalty;
      }
    }
    if (e.masked) v = -std::numeric_limits<float>::infinity();
  }
  return x;
}

std::vector<std::int32_t> random_ids(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<std::int32_t> id(0, kVocab - 1);
  std::vector<std::int32_t> ids(n);
  for (auto& v : ids) v = id(rng);
  return ids;
}

TEST(DeviceSamplingRows, EditsGiveTheCpuSamplersGreedyChoice) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  Sampler sampler(kVocab, kEos);
  DeviceSamplingRows device(kVocab, kEos);
  int penalised_rows = 0, masked_rows = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<float> logits(kVocab);
    for (auto& v : logits) v = normal(rng);
    // Put the likely tokens into the history and the biases so every edit matters.
    const auto prompt = random_ids(rng, 20);
    auto output = random_ids(rng, trial % 12);
    for (std::size_t i = 0; i < output.size(); i += 2) output[i] = prompt[i];
    SamplingParams params;
    params.temperature = 0.0f;
    params.repetition_penalty = trial % 3 == 0 ? 1.0f : 0.5f + 2.0f * unit(rng);
    params.presence_penalty = trial % 4 == 0 ? 0.0f : 4.0f * unit(rng) - 2.0f;
    params.frequency_penalty = trial % 5 == 0 ? 0.0f : 4.0f * unit(rng) - 2.0f;
    params.min_tokens = trial % 7;
    params.ignore_eos = trial % 2 == 0;
    params.stop_token_ids = random_ids(rng, 2);
    for (auto id : random_ids(rng, 3)) params.logit_bias.emplace_back(id, 10.0f * unit(rng) - 5.0f);
    params.logit_bias.emplace_back(params.logit_bias.front().first, 1.5f);  // a repeated id
    // The CPU's most likely token, masked, must make the rows disagree if the mask went missing.
    params.stop_token_ids.push_back(
        static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    std::mt19937_64 gen(1);
    const SamplerRow row{logits, &params, prompt, output, &gen, 0};
    SampleResult cpu;
    sampler.sample({&row, 1}, {&cpu, 1});
    ASSERT_FALSE(cpu.error) << *cpu.error;
    const auto rows = device.build({&row, 1});
    ASSERT_EQ(rows.size(), 1u);
    const auto edited = edited_logits(logits, rows[0]);
    const auto best = std::max_element(edited.begin(), edited.end()) - edited.begin();
    EXPECT_EQ(best, cpu.token) << "trial " << trial;
    penalised_rows += std::any_of(rows[0].edits.begin(), rows[0].edits.end(),
                                  [](const auto& e) { return e.output_count > 0; });
    masked_rows += std::any_of(rows[0].edits.begin(), rows[0].edits.end(),
                               [](const auto& e) { return e.masked; });
    for (std::size_t i = 0; i < rows[0].edits.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) EXPECT_NE(rows[0].edits[i].id, rows[0].edits[j].id);
    }
  }
  EXPECT_GT(penalised_rows, 100);
  EXPECT_GT(masked_rows, 50);
}

TEST(DeviceSamplingRows, SampledRowsTakeTheCpuSamplersDrawGreedyRowsNone) {
  std::mt19937 rng(6);
  std::vector<float> logits(kVocab);
  std::normal_distribution<float> normal;
  for (auto& v : logits) v = normal(rng);
  SamplingParams sampled, greedy;
  sampled.temperature = 0.8f;
  greedy.temperature = 0.0f;
  Sampler sampler(kVocab, kEos);
  DeviceSamplingRows device(kVocab, kEos);
  std::mt19937_64 cpu_gen_a(11), cpu_gen_b(12), dev_gen_a(11), dev_gen_b(12);
  for (int step = 0; step < 5; ++step) {
    const SamplerRow cpu_rows[] = {{logits, &sampled, {}, {}, &cpu_gen_a, 0},
                                   {logits, &greedy, {}, {}, &cpu_gen_b, 0}};
    SampleResult results[2];
    sampler.sample(cpu_rows, results);
    std::mt19937_64 expected_draw = dev_gen_a;
    const SamplerRow dev_rows[] = {{{}, &sampled, {}, {}, &dev_gen_a, 3},
                                   {{}, &greedy, {}, {}, &dev_gen_b, 1}};
    const auto rows = device.build(dev_rows);
    EXPECT_EQ(rows[0].uniform, (std::generate_canonical<double, 53>(expected_draw)));
    EXPECT_EQ(rows[0].logits_row, 3);
    EXPECT_EQ(rows[1].logits_row, 1);
    EXPECT_EQ(dev_gen_a, cpu_gen_a) << "step " << step;
    EXPECT_EQ(dev_gen_b, cpu_gen_b) << "step " << step;
  }
}

TEST(DeviceSamplingRows, ResultsMapBackWithTheCpuSamplersErrors) {
  SamplingParams plain, bad_bias, with_logprobs;
  bad_bias.logit_bias.emplace_back(kVocab, 1.0f);
  with_logprobs.logprobs = 2;
  DeviceSamplingRows device(kVocab, kEos);
  std::mt19937_64 gen(1);
  const SamplerRow rows[] = {{{}, &bad_bias, {}, {}, &gen, 0},    {{}, &plain, {}, {}, &gen, 0},
                             {{}, &plain, {}, {}, &gen, 0},       {{}, &plain, {}, {}, &gen, 0},
                             {{}, &with_logprobs, {}, {}, &gen, 0}, {{}, &plain, {}, {}, &gen, 0}};
  const auto built = device.build(rows);
  EXPECT_TRUE(built[0].edits.empty());  // the bad id is never sent
  EXPECT_EQ(built[4].num_top_logprobs, 2);
  EXPECT_EQ(built[5].num_top_logprobs, -1);
  std::vector<backend::SampledToken> out(6);
  out[0].token = 5;
  out[1].non_finite_id = 42;
  out[1].non_finite_value = std::numeric_limits<float>::quiet_NaN();
  out[2].all_masked = true;
  out[3].infinite_after_edits = true;
  out[4] = {.token = 9, .logprob = -0.5f, .top_ids = {9, 3}, .top_logprobs = {-0.5f, -1.5f}};
  out[5].token = 17;
  std::vector<SampleResult> results(6);
  device.finish(out, results);
  EXPECT_EQ(*results[0].error, *invalid_row_ids(rows[0], kVocab));
  EXPECT_EQ(*results[1].error, non_finite_logit_error(42, out[1].non_finite_value));
  EXPECT_EQ(*results[2].error, unsampleable_error(true));
  EXPECT_EQ(*results[3].error, unsampleable_error(false));
  EXPECT_FALSE(results[4].error);
  EXPECT_EQ(results[4].token, 9);
  EXPECT_EQ(results[4].logprob, -0.5f);
  ASSERT_EQ(results[4].top.size(), 2u);
  EXPECT_EQ(results[4].top[1].id, 3);
  EXPECT_EQ(results[4].top[1].logprob, -1.5f);
  EXPECT_EQ(results[5].token, 17);
  EXPECT_TRUE(results[5].top.empty());
}

}  // namespace
}  // namespace llmserve::engine
