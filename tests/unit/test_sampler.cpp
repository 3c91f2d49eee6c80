#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <set>

#include "llmserve/engine/sampler.h"
#include "llmserve/engine/sampling_params.h"

namespace llmserve::engine {
namespace {

// ---------------------------------------------------------------------------------------------
// validate()

constexpr std::int32_t kVocab = 100;

SamplingParams full_valid_params() {
  SamplingParams p;
  p.n = kMaxN;
  p.max_tokens = 100;
  p.min_tokens = 100;
  p.temperature = 0.0f;
  p.top_p = 1.0f;
  p.top_k = 5;
  p.min_p = 1.0f;
  p.repetition_penalty = 0.5f;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  p.logit_bias = {{0, -100.0f}, {kVocab - 1, 100.0f}};
  p.seed = 7;
  p.logprobs = kMaxLogprobs;
  p.ignore_eos = true;
  p.stop_token_ids = {0, kVocab - 1};
  p.stop = std::vector<std::string>(kMaxStopStrings, std::string(kMaxStopStringBytes, 'x'));
  return p;
}

TEST(ValidateSamplingParams, AcceptsDefaultsAndEveryBoundary) {
  EXPECT_NO_THROW(validate(SamplingParams{}, kVocab));
  EXPECT_NO_THROW(validate(full_valid_params(), kVocab));
}

struct InvalidCase {
  const char* param;
  std::function<void(SamplingParams&)> change;
};

TEST(ValidateSamplingParams, EachFieldOutOfRangeNamesItself) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<InvalidCase> cases = {
      {"n", [](auto& p) { p.n = 0; }},
      {"n", [](auto& p) { p.n = kMaxN + 1; }},
      {"max_tokens", [](auto& p) { p.max_tokens = 0; }},
      {"min_tokens", [](auto& p) { p.min_tokens = -1; }},
      {"min_tokens", [](auto& p) { p.min_tokens = p.max_tokens + 1; }},
      {"temperature", [](auto& p) { p.temperature = -0.01f; }},
      {"temperature", [=](auto& p) { p.temperature = nan; }},
      {"temperature", [=](auto& p) { p.temperature = inf; }},
      {"top_p", [](auto& p) { p.top_p = 0.0f; }},
      {"top_p", [](auto& p) { p.top_p = 1.01f; }},
      {"top_p", [=](auto& p) { p.top_p = nan; }},
      {"top_k", [](auto& p) { p.top_k = -1; }},
      {"min_p", [](auto& p) { p.min_p = -0.1f; }},
      {"min_p", [](auto& p) { p.min_p = 1.5f; }},
      {"min_p", [=](auto& p) { p.min_p = nan; }},
      {"repetition_penalty", [](auto& p) { p.repetition_penalty = 0.0f; }},
      {"repetition_penalty", [=](auto& p) { p.repetition_penalty = inf; }},
      {"presence_penalty", [](auto& p) { p.presence_penalty = 2.5f; }},
      {"presence_penalty", [](auto& p) { p.presence_penalty = -2.5f; }},
      {"frequency_penalty", [](auto& p) { p.frequency_penalty = 3.0f; }},
      {"frequency_penalty", [=](auto& p) { p.frequency_penalty = nan; }},
      {"logit_bias",
       [](auto& p) {
         p.logit_bias = {{-1, 1.0f}};
       }},
      {"logit_bias",
       [](auto& p) {
         p.logit_bias = {{kVocab, 1.0f}};
       }},
      {"logit_bias",
       [](auto& p) {
         p.logit_bias = {{3, 100.5f}};
       }},
      {"logit_bias",
       [=](auto& p) {
         p.logit_bias = {{3, nan}};
       }},
      {"logprobs", [](auto& p) { p.logprobs = -1; }},
      {"logprobs", [](auto& p) { p.logprobs = kMaxLogprobs + 1; }},
      {"stop_token_ids",
       [](auto& p) {
         p.stop_token_ids = {5, kVocab};
       }},
      {"stop_token_ids", [](auto& p) { p.stop_token_ids = {-1}; }},
      {"stop",
       [](auto& p) {
         p.stop = {"ok", ""};
       }},
      {"stop", [](auto& p) { p.stop.assign(kMaxStopStrings + 1, "x"); }},
      {"stop", [](auto& p) { p.stop = {std::string(kMaxStopStringBytes + 1, 'x')}; }},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SamplingParams params;
    cases[i].change(params);
    try {
      validate(params, kVocab);
      ADD_FAILURE() << "case " << i << " (" << cases[i].param << ") was accepted";
    } catch (const InvalidParameter& e) {
      EXPECT_EQ(e.param(), cases[i].param) << "case " << i << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(cases[i].param), std::string::npos) << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sampler: independent references in double precision

std::vector<double> softmax(std::span<const float> logits, double temperature = 1.0) {
  double max = -std::numeric_limits<double>::infinity();
  for (float x : logits) max = std::max(max, double{x});
  std::vector<double> p(logits.size());
  double sum = 0;
  for (std::size_t i = 0; i < p.size(); ++i)
    sum += p[i] = std::exp((logits[i] - max) / temperature);
  for (auto& x : p) x /= sum;
  return p;
}

std::vector<int> by_probability(const std::vector<double>& p) {
  std::vector<int> ids(p.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) { return p[a] > p[b]; });
  return ids;
}

// The nucleus of `p` (renormalised over `ids`, a most-likely-first prefix). Asserts that top_p
// sits well away from a cumulative sum, so float rounding cannot change the answer.
std::vector<int> nucleus(const std::vector<double>& p, std::vector<int> ids, double top_p) {
  double total = 0;
  for (int id : ids) total += p[id];
  double cumulative = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    cumulative += p[ids[i]] / total;
    if (cumulative >= top_p) {
      EXPECT_GT(cumulative - top_p, 1e-4) << "ill-posed test";
      EXPECT_GT(top_p - (cumulative - p[ids[i]] / total), 1e-4) << "ill-posed test";
      ids.resize(i + 1);
      return ids;
    }
  }
  return ids;
}

// `p` restricted to `support` and renormalised.
std::vector<double> restricted(const std::vector<double>& p, const std::vector<int>& support) {
  std::vector<double> q(p.size(), 0.0);
  double total = 0;
  for (int id : support) total += p[id];
  for (int id : support) q[id] = p[id] / total;
  return q;
}

std::vector<float> random_logits(std::size_t vocab, std::uint64_t seed, float scale = 3.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> logits(vocab);
  for (auto& x : logits) x = normal(rng);
  return logits;
}

SampleResult sample_one(Sampler& sampler, std::span<const float> logits,
                        const SamplingParams& params, std::mt19937_64& rng,
                        std::span<const std::int32_t> prompt = {},
                        std::span<const std::int32_t> output = {}) {
  const SamplerRow row{logits, &params, prompt, output, &rng};
  SampleResult result;
  sampler.sample(std::span(&row, 1), std::span(&result, 1));
  return result;
}

std::int32_t greedy(Sampler& sampler, std::span<const float> logits, SamplingParams params,
                    std::span<const std::int32_t> prompt = {},
                    std::span<const std::int32_t> output = {}) {
  params.temperature = 0.0f;
  std::mt19937_64 rng(0);
  const auto result = sample_one(sampler, logits, params, rng, prompt, output);
  EXPECT_FALSE(result.error) << *result.error;
  return result.token;
}

std::vector<int> draw_counts(Sampler& sampler, std::span<const float> logits,
                             const SamplingParams& params, int draws, std::uint64_t seed) {
  std::vector<int> counts(logits.size(), 0);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < draws; ++i) {
    const auto result = sample_one(sampler, logits, params, rng);
    EXPECT_FALSE(result.error);
    ++counts.at(static_cast<std::size_t>(result.token));
  }
  return counts;
}

// Every token outside the support of `expected` never drawn; inside, a chi-square statistic
// within about 8 standard deviations of its degrees of freedom.
void expect_distribution(const std::vector<int>& counts, const std::vector<double>& expected) {
  const double draws = std::accumulate(counts.begin(), counts.end(), 0.0);
  double chi2 = 0;
  int support = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (expected[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " is outside the support";
      continue;
    }
    ++support;
    const double e = draws * expected[i];
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  const double df = std::max(support - 1, 1);
  EXPECT_LT(chi2, df + 8.0 * std::sqrt(2.0 * df)) << "support " << support;
}

std::set<int> observed(const std::vector<int>& counts) {
  std::set<int> ids;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) ids.insert(static_cast<int>(i));
  }
  return ids;
}

TEST(Sampler, GreedyIsArgmaxWithTiesToLowestIdAndDrawsNothing) {
  Sampler sampler(1000, {});
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    auto logits = random_logits(1000, seed);
    const auto expected =
        static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_EQ(greedy(sampler, logits, {}), expected);
    logits[999] = logits[expected];  // a tie after it
    EXPECT_EQ(greedy(sampler, logits, {}), expected);
    logits[0] = logits[expected];  // a tie before it
    EXPECT_EQ(greedy(sampler, logits, {}), 0);
  }
  SamplingParams params;
  params.temperature = 0.0f;
  std::mt19937_64 rng(5), untouched(5);
  sample_one(sampler, random_logits(1000, 1), params, rng);
  EXPECT_EQ(rng(), untouched());
}

TEST(Sampler, TemperatureFollowsScaledSoftmax) {
  Sampler sampler(6, {});
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f};
  for (float temperature : {1.0f, 0.7f, 2.5f}) {
    SamplingParams params;
    params.temperature = temperature;
    expect_distribution(draw_counts(sampler, logits, params, 20000, 11),
                        softmax(logits, temperature));
  }
}

TEST(Sampler, TopKKeepsTheKMostLikelyWithTiesToLowerIds) {
  Sampler sampler(50, {});
  auto logits = random_logits(50, 3, 1.0f);
  const auto order = by_probability(softmax(logits));
  logits[static_cast<std::size_t>(order[5])] = logits[static_cast<std::size_t>(order[4])];
  const int tied_low = std::min(order[4], order[5]);
  const int tied_high = std::max(order[4], order[5]);
  SamplingParams params;
  params.top_k = 5;
  const auto counts = draw_counts(sampler, logits, params, 20000, 12);
  auto support = by_probability(softmax(logits));  // stable: the tie in id order
  support.resize(5);
  EXPECT_NE(std::find(support.begin(), support.end(), tied_low), support.end());
  EXPECT_EQ(std::find(support.begin(), support.end(), tied_high), support.end());
  EXPECT_EQ(observed(counts), std::set<int>(support.begin(), support.end()));
  expect_distribution(counts, restricted(softmax(logits), support));
}

TEST(Sampler, TopPKeepsExactlyTheNucleus) {
  Sampler sampler(40, {});
  const auto logits = random_logits(40, 4, 1.2f);
  for (float top_p : {0.3f, 0.62f, 0.9f}) {
    SamplingParams params;
    params.temperature = 0.9f;
    params.top_p = top_p;
    const auto p = softmax(logits, 0.9);
    const auto support = nucleus(p, by_probability(p), top_p);
    const auto counts = draw_counts(sampler, logits, params, 20000, 13);
    EXPECT_EQ(observed(counts), std::set<int>(support.begin(), support.end())) << top_p;
    expect_distribution(counts, restricted(p, support));
  }
}

// Tokens 1..30 share one probability bucket (exact ties, then near ties), and top_p cuts inside
// it: the cut must follow probability, then id, within the bucket. top_p sits halfway between
// two cumulative sums so that rounding cannot move it.
TEST(Sampler, TopPCutsInsideABucketOfTies) {
  Sampler sampler(40, {});
  for (float spread : {0.0f, 0.002f}) {
    std::vector<float> logits(40, -20.0f);
    logits[0] = 2.0f;
    for (int i = 1; i <= 30; ++i) logits[static_cast<std::size_t>(i)] = spread * float(i % 7);
    const auto p = softmax(logits);
    const auto order = by_probability(p);
    double cumulative = 0;
    for (std::size_t i = 0; i < 12; ++i) cumulative += p[static_cast<std::size_t>(order[i])];
    SamplingParams params;
    params.top_p = static_cast<float>(cumulative + p[static_cast<std::size_t>(order[12])] / 2);
    const std::vector<int> support(order.begin(), order.begin() + 13);
    const auto counts = draw_counts(sampler, logits, params, 20000, 24);
    EXPECT_EQ(observed(counts), std::set<int>(support.begin(), support.end())) << spread;
    expect_distribution(counts, restricted(p, support));
  }
}

TEST(Sampler, TopPAppliesToWhatTopKLeft) {
  Sampler sampler(40, {});
  const auto logits = random_logits(40, 5, 1.0f);
  SamplingParams params;
  params.top_k = 10;
  params.top_p = 0.55f;
  const auto p = softmax(logits);
  auto top10 = by_probability(p);
  top10.resize(10);
  const auto support = nucleus(p, top10, 0.55);
  const auto counts = draw_counts(sampler, logits, params, 20000, 14);
  EXPECT_EQ(observed(counts), std::set<int>(support.begin(), support.end()));
  expect_distribution(counts, restricted(p, support));
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheMostLikely) {
  Sampler sampler(30, {});
  const auto logits = random_logits(30, 6, 1.0f);
  const auto p = softmax(logits);
  const double max = *std::max_element(p.begin(), p.end());
  for (int top_k : {0, 20}) {  // id-order path, then sorted path
    SamplingParams params;
    params.min_p = 0.2f;
    params.top_k = top_k;
    std::vector<int> support;
    for (int id : by_probability(p)) {
      const bool kept = p[id] >= 0.2 * max && (top_k == 0 || support.size() < 20);
      if (kept) support.push_back(id);
      ASSERT_GT(std::abs(p[id] - 0.2 * max), 1e-6) << "ill-posed test";
    }
    const auto counts = draw_counts(sampler, logits, params, 20000, 15);
    EXPECT_EQ(observed(counts), std::set<int>(support.begin(), support.end()));
    expect_distribution(counts, restricted(p, support));
  }
}

// A large vocabulary with a heavy tail: the nucleus holds thousands of tokens, so the bucketed
// candidate search gathers and sorts many. top_p sits halfway between two cumulative sums of the
// reference, so float rounding cannot move the cut; every draw must lie in that nucleus.
TEST(Sampler, TopPOnALargeVocabularyStaysInTheNucleus) {
  const std::size_t vocab = 151936, head = 20;
  Sampler sampler(static_cast<std::int32_t>(vocab), {});
  auto logits = random_logits(vocab, 7, 2.0f);
  for (std::size_t i = 0; i < head; ++i) logits[i] += 6.0f;
  const auto p = softmax(logits, 0.8);
  const auto order = by_probability(p);
  std::size_t size = 0;
  double cumulative = 0;
  while (cumulative + p[order[size]] < 0.9) cumulative += p[order[size++]];
  SamplingParams params;
  params.temperature = 0.8f;
  params.top_p = static_cast<float>(cumulative + p[order[size]] / 2);  // nucleus: size + 1
  const std::set<int> allowed(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(size + 1));
  ASSERT_GT(allowed.size(), 1000u);
  std::mt19937_64 rng(16);
  int tail_draws = 0;
  for (int i = 0; i < 300; ++i) {
    const auto result = sample_one(sampler, logits, params, rng);
    ASSERT_FALSE(result.error);
    EXPECT_TRUE(allowed.count(result.token)) << result.token;
    tail_draws += result.token >= static_cast<std::int32_t>(head);
  }
  EXPECT_GT(tail_draws, 100);
}

TEST(Sampler, LargeVocabularyGreedyAndLogprobs) {
  const std::size_t vocab = 151936;
  Sampler sampler(static_cast<std::int32_t>(vocab), {151643});
  const auto logits = random_logits(vocab, 8, 3.0f);
  SamplingParams params;
  params.logprobs = kMaxLogprobs;
  params.temperature = 0.0f;
  std::mt19937_64 rng(1);
  const auto result = sample_one(sampler, logits, params, rng);
  const auto p = softmax(logits);
  const auto order = by_probability(p);
  EXPECT_EQ(result.token, order[0]);
  ASSERT_EQ(result.top.size(), static_cast<std::size_t>(kMaxLogprobs));
  for (std::size_t k = 0; k < result.top.size(); ++k) {
    EXPECT_EQ(result.top[k].id, order[k]);
    EXPECT_NEAR(result.top[k].logprob, std::log(p[static_cast<std::size_t>(order[k])]), 1e-4);
  }
}

// Penalties are checked through greedy picks: the penalised token competes with one whose logit
// sits just above, then just below, the value the formula predicts.
struct PenaltyCase {
  float logit;
  SamplingParams params;
  std::vector<std::int32_t> prompt;
  std::vector<std::int32_t> output;
  float expected;  // the penalised logit of token 0
};

TEST(Sampler, PenaltiesFollowTheirFormulas) {
  auto with = [](std::function<void(SamplingParams&)> change) {
    SamplingParams params;
    change(params);
    return params;
  };
  const auto rep = with([](auto& p) { p.repetition_penalty = 1.5f; });
  const auto freq = with([](auto& p) { p.frequency_penalty = 0.75f; });
  const auto pres = with([](auto& p) { p.presence_penalty = 1.25f; });
  const auto all = with([](auto& p) {
    p.repetition_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = -0.25f;
  });
  const auto bias_then_rep = with([](auto& p) {
    p.repetition_penalty = 2.0f;
    p.logit_bias = {{0, 1.0f}};
  });
  const std::vector<PenaltyCase> cases = {
      {3.0f, rep, {0}, {}, 2.0f},            // positive: divided, prompt counts
      {-1.0f, rep, {}, {0}, -1.5f},          // negative: multiplied, output counts
      {3.0f, rep, {0, 0, 0}, {0, 0}, 2.0f},  // once per distinct token
      {3.0f, rep, {}, {}, 3.0f},             // absent: untouched
      {3.0f, freq, {}, {0, 0, 0}, 0.75f},    // 3 - 0.75 * 3
      {3.0f, freq, {0, 0}, {}, 3.0f},        // prompt tokens do not count
      {3.0f, pres, {}, {0, 0, 0}, 1.75f},    // once, whatever the count
      {3.0f, all, {0}, {0, 0}, 0.75f},       // 3 / 2 - 0.5 * 2 + 0.25
      {-2.0f, all, {}, {0}, -4.25f},         // -2 * 2 - 0.5 + 0.25
      {1.0f, bias_then_rep, {0}, {}, 1.0f},  // (1 + 1) / 2, not 1 / 2 + 1
  };
  Sampler sampler(4, {});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    for (float offset : {0.01f, -0.01f}) {
      const std::vector<float> logits = {c.logit, c.expected + offset, -50.0f, -50.0f};
      const std::int32_t expected_token = offset > 0 ? 1 : 0;
      EXPECT_EQ(greedy(sampler, logits, c.params, c.prompt, c.output), expected_token)
          << "case " << i << " offset " << offset;
    }
  }
}

TEST(Sampler, PenaltyMarksDoNotLeakBetweenRows) {
  Sampler sampler(3, {});
  SamplingParams params;
  params.frequency_penalty = 1.0f;
  const std::vector<std::int32_t> repeated = {0, 0, 0};
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(greedy(sampler, std::vector<float>{5.0f, 2.5f, 0.0f}, params, {}, repeated), 1);
    EXPECT_EQ(greedy(sampler, std::vector<float>{5.0f, 4.5f, 0.0f}, params), 0);
  }
}

TEST(Sampler, LogitBiasShiftsTheLogit) {
  Sampler sampler(3, {});
  const std::vector<float> logits = {1.0f, 0.0f, 0.5f};
  SamplingParams params;
  params.logit_bias = {{1, 0.99f}};
  EXPECT_EQ(greedy(sampler, logits, params), 0);
  params.logit_bias = {{1, 1.01f}};
  EXPECT_EQ(greedy(sampler, logits, params), 1);
  params.logit_bias = {{0, -100.0f}};
  EXPECT_EQ(greedy(sampler, logits, params), 2);
}

TEST(Sampler, MinTokensMasksEosAndStopTokenIds) {
  Sampler sampler(5, {0});
  const std::vector<float> logits = {9.0f, 8.0f, 1.0f, 0.5f, 0.0f};  // EOS, stop id, then others
  SamplingParams params;
  params.min_tokens = 2;
  params.stop_token_ids = {1};
  const std::vector<std::int32_t> one = {3}, two = {3, 3};
  EXPECT_EQ(greedy(sampler, logits, params, {}, one), 2);
  EXPECT_EQ(greedy(sampler, logits, params, {}, two), 0);
  params.ignore_eos = true;
  EXPECT_EQ(greedy(sampler, logits, params, {}, one), 0);
  params.ignore_eos = false;
  params.temperature = 1.0f;
  std::mt19937_64 rng(17);
  for (int i = 0; i < 2000; ++i) {
    const auto token = sample_one(sampler, logits, params, rng, {}, one).token;
    EXPECT_GE(token, 2);
  }
}

TEST(Sampler, SeededRowIsTheSameAloneOrInABatch) {
  const std::size_t vocab = 16384;  // rows long enough to overlap across threads
  Sampler sampler(static_cast<std::int32_t>(vocab), {0});
  SamplingParams target;
  target.temperature = 0.8f;
  target.top_p = 0.9f;
  target.top_k = 40;
  target.min_p = 0.01f;
  target.repetition_penalty = 1.1f;
  target.presence_penalty = 0.3f;
  target.frequency_penalty = 0.2f;
  const std::vector<std::int32_t> prompt = {5, 6, 7, 5};
  const int steps = 20;
  auto step_logits = [&](int step, int row) {
    return random_logits(vocab, static_cast<std::uint64_t>(step * 1000 + row), 2.0f);
  };

  std::vector<std::int32_t> alone;
  std::mt19937_64 alone_rng(99);
  for (int step = 0; step < steps; ++step) {
    const auto logits = step_logits(step, 0);
    alone.push_back(sample_one(sampler, logits, target, alone_rng, prompt, alone).token);
  }

  // At least 4 threads, so that rows interleave even on a small machine; restored after.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(std::max(threads, 4));
  const std::size_t rows = 64, target_row = 37;
  std::vector<SamplingParams> params(rows);
  std::vector<std::mt19937_64> rngs;
  std::vector<std::vector<std::int32_t>> outputs(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    params[r].temperature = static_cast<float>(r % 4) * 0.4f;
    params[r].top_k = static_cast<std::int32_t>(r % 7) * 10;
    params[r].top_p = r % 3 == 0 ? 0.5f : 1.0f;
    params[r].frequency_penalty = r % 5 == 0 ? 0.5f : 0.0f;
    params[r].logprobs = static_cast<std::int32_t>(r % 3);
    rngs.emplace_back(r);
  }
  params[target_row] = target;
  rngs[target_row].seed(99);
  for (int step = 0; step < steps; ++step) {
    std::vector<std::vector<float>> logits(rows);
    std::vector<SamplerRow> batch(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      logits[r] = step_logits(step, r == target_row ? 0 : static_cast<int>(r) + 1);
      batch[r] = {logits[r], &params[r], prompt, outputs[r], &rngs[r]};
    }
    std::vector<SampleResult> results(rows);
    sampler.sample(batch, results);
    for (std::size_t r = 0; r < rows; ++r) outputs[r].push_back(results[r].token);
  }
  omp_set_num_threads(threads);
  EXPECT_EQ(outputs[target_row], alone);
}

TEST(Sampler, LogprobsAreTheRawLogSoftmax) {
  Sampler sampler(1000, {});
  auto logits = random_logits(1000, 18, 4.0f);
  logits[10] = logits[20] = 30.0f;  // a tie at the top: lower id first
  SamplingParams params;
  params.temperature = 0.5f;
  params.top_k = 3;
  params.logit_bias = {{500, 50.0f}};  // transforms must not leak into the reported logprobs
  params.logprobs = 5;
  const auto p = softmax(logits);
  const auto order = by_probability(p);
  std::mt19937_64 rng(19);
  for (int i = 0; i < 20; ++i) {
    const auto result = sample_one(sampler, logits, params, rng);
    ASSERT_FALSE(result.error);
    EXPECT_NEAR(result.logprob, std::log(p[static_cast<std::size_t>(result.token)]), 1e-5);
    ASSERT_EQ(result.top.size(), 5u);
    for (std::size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(result.top[k].id, order[k]);
      EXPECT_NEAR(result.top[k].logprob, std::log(p[static_cast<std::size_t>(order[k])]), 1e-5);
    }
  }
  EXPECT_EQ(order[0], 10);
  params.logprobs = 0;
  const auto result = sample_one(sampler, logits, params, rng);
  EXPECT_TRUE(result.top.empty());
  EXPECT_NEAR(result.logprob, std::log(p[static_cast<std::size_t>(result.token)]), 1e-5);
}

// Two tokens whose logits differ by d: the reported logprobs must match double precision at
// every d the sampler's exp covers, which a sum over many random logits would average out.
TEST(Sampler, LogprobsAreAccurateAcrossTheExpRange) {
  Sampler sampler(2, {});
  SamplingParams params;
  params.temperature = 0.0f;
  params.logprobs = 2;
  std::mt19937_64 rng(25);
  for (double d = 0.0; d < 87.0; d += 0.0137) {
    const std::vector<float> logits = {0.0f, static_cast<float>(-d)};
    const auto result = sample_one(sampler, logits, params, rng);
    ASSERT_EQ(result.top.size(), 2u);
    const double x = logits[1];
    const double log_z = std::log1p(std::exp(x));
    EXPECT_NEAR(result.top[0].logprob, -log_z, 2e-7) << d;
    EXPECT_NEAR(result.top[1].logprob, x - log_z, 2e-7 + 1e-7 * std::abs(x)) << d;
  }
}

TEST(Sampler, NonFiniteLogitsFailOnlyTheirRow) {
  Sampler sampler(100, {});
  SamplingParams params;
  params.temperature = 0.7f;
  const auto good = random_logits(100, 20);
  auto with_nan = good, with_inf = good;
  with_nan[42] = std::numeric_limits<float>::quiet_NaN();
  with_inf[7] = std::numeric_limits<float>::infinity();
  std::vector<std::mt19937_64> rngs(4, std::mt19937_64(21));
  const std::vector<SamplerRow> rows = {{good, &params, {}, {}, &rngs[0]},
                                        {with_nan, &params, {}, {}, &rngs[1]},
                                        {with_inf, &params, {}, {}, &rngs[2]}};
  std::vector<SampleResult> results(3);
  EXPECT_NO_THROW(sampler.sample(rows, results));
  EXPECT_FALSE(results[0].error);
  EXPECT_EQ(results[0].token, sample_one(sampler, good, params, rngs[3]).token);
  for (std::size_t r : {1u, 2u}) {
    ASSERT_TRUE(results[r].error);
    EXPECT_NE(results[r].error->find("non-finite"), std::string::npos) << *results[r].error;
    EXPECT_EQ(results[r].token, -1);
  }
}

TEST(Sampler, ImpossibleRowsReportErrors) {
  Sampler sampler(3, {0});
  SamplingParams params;
  params.min_tokens = 1;
  params.stop_token_ids = {1, 2};
  std::mt19937_64 rng(22);
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  EXPECT_TRUE(sample_one(sampler, logits, params, rng).error);  // everything masked
  const std::vector<std::int32_t> bad_prompt = {3};
  params = {};
  params.repetition_penalty = 1.2f;
  EXPECT_TRUE(sample_one(sampler, logits, params, rng, bad_prompt).error);
  EXPECT_TRUE(sample_one(sampler, std::vector<float>{1.0f, 2.0f}, params, rng).error);
  EXPECT_THROW(Sampler(3, {3}), Error);
}

}  // namespace
}  // namespace llmserve::engine
