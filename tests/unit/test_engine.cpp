// The engine end to end on the tiny checkpoints: batch invariance under chunked prefill,
// preemption and prefix caching; seeded sampling; n > 1 forks; stop conditions; validation.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <map>

#include "batch_scenarios.h"
#include "engine_harness.h"

namespace llmserve::engine {
namespace {

using testing::batch_scenarios;
using testing::EngineTestBase;
using testing::Job;
using testing::JobResult;
using testing::mixed_jobs;
using testing::Scenario;

class BatchInvariance : public ::testing::TestWithParam<std::tuple<const char*, Scenario>>,
                        public EngineTestBase {
 public:
  BatchInvariance() : EngineTestBase(std::get<0>(GetParam())) {}
};

// Greedy output of every request in a batch of 32 equals its output when run alone.
TEST_P(BatchInvariance, GreedyOutputsEqualSoloRuns) {
  const auto jobs = mixed_jobs(*this);
  const Scenario scenario = std::get<1>(GetParam());
  EngineStats stats;
  const auto batched = run_jobs(jobs, scenario.make(*this), &stats);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Job solo = jobs[i];
    solo.arrival_step = 0;
    const auto alone = run_jobs({solo}, config::EngineConfig{});
    ASSERT_EQ(batched[i].choices[0].tokens, alone[0].choices[0].tokens) << "request " << i;
    EXPECT_EQ(batched[i].choices[0].text, alone[0].choices[0].text);
    EXPECT_EQ(batched[i].choices[0].finish, FinishReason::kLength);
    EXPECT_EQ(batched[i].usage.completion_tokens, jobs[i].params.max_tokens);
  }
  const std::string name = scenario.name;
  if (name == "preempting") {
    EXPECT_GT(stats.num_preemptions, 0);
  }
  if (name == "prefix_cached") {
    EXPECT_GT(stats.prefix_cache_hits, 0);
    EXPECT_GT(stats.num_cached_blocks, 0);
  } else {
    EXPECT_EQ(stats.prefix_cache_hits, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, BatchInvariance,
                         ::testing::Combine(::testing::Values("gpt2-f32", "qwen2-f32"),
                                            ::testing::ValuesIn(batch_scenarios())),
                         [](const auto& test) {
                           std::string name = std::string(std::get<0>(test.param)) + "_" +
                                              std::get<1>(test.param).name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

class EngineTest : public ::testing::TestWithParam<const char*>, public EngineTestBase {
 public:
  EngineTest() : EngineTestBase(GetParam()) {}
};

// A seeded request samples the same tokens alone and inside any batch; choice 0 of n > 1 too.
TEST_P(EngineTest, SeededSamplingIsIndependentOfTheBatch) {
  std::mt19937 rng(7);
  Job target{random_prompt(rng, 11), {}, 0};
  target.params.temperature = 0.9f;
  target.params.top_p = 0.95f;
  target.params.top_k = 1000;
  target.params.seed = 1234;
  target.params.max_tokens = 16;
  target.params.ignore_eos = true;
  const auto alone = run_jobs({target}, {})[0].choices[0].tokens;

  std::vector<Job> mixed;
  for (int i = 0; i < 12; ++i) {
    Job other{random_prompt(rng, 1 + rng() % 40), {}, static_cast<std::int32_t>(rng() % 4)};
    other.params.temperature = static_cast<float>(rng() % 3) * 0.5f;
    other.params.top_k = static_cast<std::int32_t>(rng() % 50);
    other.params.repetition_penalty = 1.2f;
    other.params.max_tokens = 1 + static_cast<std::int32_t>(rng() % 20);
    other.params.n = 1 + static_cast<std::int32_t>(rng() % 2);
    if (i % 2 == 0) other.params.seed = rng();
    mixed.push_back(other);
  }
  target.arrival_step = 2;
  mixed.push_back(target);
  config::EngineConfig small_steps;
  small_steps.max_num_batched_tokens = 24;
  small_steps.max_num_seqs = 8;
  EXPECT_EQ(run_jobs(mixed, small_steps).back().choices[0].tokens, alone);

  Job pair = target;
  pair.params.n = 2;
  const auto two = run_jobs({pair}, {})[0];
  EXPECT_EQ(two.choices[0].tokens, alone);
  EXPECT_NE(two.choices[1].tokens, alone);
  Job reseeded = target;
  reseeded.params.seed = 4321;
  EXPECT_NE(run_jobs({reseeded}, {})[0].choices[0].tokens, alone);
}

// n = 3 greedy: the prompt's blocks are shared, the partly filled last one copied on the first
// append of each choice but the last holder, and every choice equals the n = 1 output.
TEST_P(EngineTest, ForkedChoicesShareThePromptAndCopyOnAppend) {
  std::mt19937 rng(3);
  Job job{random_prompt(rng, 10), greedy(6), 0};
  config::EngineConfig config;
  config.block_size = 4;
  const auto single = run_jobs({job}, config)[0].choices[0].tokens;

  job.params.n = 3;
  EngineCore engine(*runner, *tokenizer, config);
  auto handle = engine.submit({job.prompt, job.params});
  engine.step();  // prefill (3 blocks), fork
  EXPECT_EQ(engine.block_manager().num_used_blocks(), 3);
  engine.step();  // each choice writes position 10, in the shared block 2: two copies
  EXPECT_EQ(engine.block_manager().num_used_blocks(), 5);
  JobResult result;
  result.choices.resize(3);
  bool finished = false;
  while (!finished) {
    if (auto out = handle.poll()) testing::accumulate(std::move(*out), result, finished);
    if (!finished) engine.step();
  }
  for (const auto& choice : result.choices) EXPECT_EQ(choice.tokens, single);
  EXPECT_EQ(result.usage.completion_tokens, 18);
  EXPECT_EQ(engine.block_manager().num_used_blocks(), 0);
}

// A stop string made of the last character of one token's text and the first of the next is
// found across the boundary; the text ends right before it and the stop string is not returned.
TEST_P(EngineTest, StopStringAcrossTokensIsFoundAndCut) {
  std::mt19937 rng(11);
  Job job{random_prompt(rng, 5), greedy(32), 0};
  const auto base = run_jobs({job}, {})[0].choices[0];
  const auto& ids = base.tokens;
  std::optional<std::string> stop;
  std::size_t cut = 0, tokens_until_stop = 0;
  for (std::size_t i = 1; i + 1 < ids.size() && !stop; ++i) {
    const std::vector<std::int32_t> a_ids(ids.begin(), ids.begin() + static_cast<long>(i));
    const std::vector<std::int32_t> b_ids(ids.begin(), ids.begin() + static_cast<long>(i) + 1);
    const std::string a = tokenizer->decode(a_ids, true);
    const std::string b = tokenizer->decode(b_ids, true);
    if (a.empty() || b.size() <= a.size() || b.compare(0, a.size(), a) != 0) continue;
    const auto ascii = [](char c) { return c > ' ' && static_cast<unsigned char>(c) < 0x7f; };
    if (!ascii(a.back()) || !ascii(b[a.size()])) continue;
    const std::string candidate = std::string{a.back(), b[a.size()]};
    if (base.text.find(candidate) != a.size() - 1) continue;
    stop = candidate;
    cut = a.size() - 1;
    tokens_until_stop = i + 1;
  }
  ASSERT_TRUE(stop) << "no token boundary to test in: " << base.text;
  job.params.stop = {"never-in-this-text", *stop};
  const auto stopped = run_jobs({job}, {})[0].choices[0];
  EXPECT_EQ(stopped.text, base.text.substr(0, cut));
  EXPECT_EQ(stopped.finish, FinishReason::kStop);
  EXPECT_EQ(std::get<std::string>(stopped.stop_reason), *stop);
  EXPECT_EQ(stopped.tokens.size(), tokens_until_stop);
}

TEST_P(EngineTest, StopTokensMinTokensAndMaxTokens) {
  std::mt19937 rng(5);
  Job job{random_prompt(rng, 6), greedy(12), 0};
  const auto base = run_jobs({job}, {})[0].choices[0].tokens;
  std::size_t k = 2;
  while (std::find(base.begin(), base.begin() + static_cast<long>(k), base[k]) !=
         base.begin() + static_cast<long>(k)) {
    ++k;
  }
  Job stop_job = job;
  stop_job.params.stop_token_ids = {base[k]};
  const auto stopped = run_jobs({stop_job}, {})[0].choices[0];
  EXPECT_EQ(stopped.tokens, std::vector<std::int32_t>(base.begin(), base.begin() + k + 1));
  EXPECT_EQ(stopped.finish, FinishReason::kStop);
  EXPECT_EQ(std::get<std::int32_t>(stopped.stop_reason), base[k]);

  stop_job.params.min_tokens = static_cast<std::int32_t>(k) + 3;
  const auto held = run_jobs({stop_job}, {})[0].choices[0].tokens;
  ASSERT_GE(held.size(), k + 3);
  EXPECT_EQ(std::vector<std::int32_t>(held.begin(), held.begin() + static_cast<long>(k)),
            std::vector<std::int32_t>(base.begin(), base.begin() + static_cast<long>(k)));
  for (std::size_t i = 0; i < k + 3; ++i) EXPECT_NE(held[i], base[k]) << "masked until min_tokens";

  Job short_job = job;
  short_job.params.max_tokens = 4;
  const auto cut = run_jobs({short_job}, {})[0].choices[0];
  EXPECT_EQ(cut.tokens, std::vector<std::int32_t>(base.begin(), base.begin() + 4));
  EXPECT_EQ(cut.finish, FinishReason::kLength);
}

// With prefix caching, a second request with the same prompt reuses its full blocks: they are
// reported as cached prompt tokens, not recomputed, and the output is the same.
TEST_P(EngineTest, PrefixCacheHitsSkipRecomputation) {
  std::mt19937 rng(13);
  const Job job{random_prompt(rng, 23), greedy(4), 0};
  config::EngineConfig config;
  config.block_size = 4;
  config.enable_prefix_caching = true;
  EngineStats stats;
  const auto first = run_jobs({job}, config)[0];
  Job again = job;
  again.arrival_step = 6;  // after the first has finished
  const auto both = run_jobs({job, again}, config, &stats);
  EXPECT_EQ(both[0].usage.cached_prompt_tokens, 0);
  EXPECT_EQ(both[1].usage.cached_prompt_tokens, 20);  // 5 full blocks of the 23-token prompt
  EXPECT_EQ(both[1].choices[0].tokens, first.choices[0].tokens);
  EXPECT_EQ(stats.prefix_cache_queries, 46);
  EXPECT_EQ(stats.prefix_cache_hits, 20);
}

TEST_P(EngineTest, TimestampsAndUsage) {
  std::mt19937 rng(9);
  Job job{random_prompt(rng, 7), greedy(5), 0};
  const auto r = run_jobs({job}, {})[0];
  ASSERT_TRUE(r.times.first_scheduled && r.times.first_token && r.times.finished);
  EXPECT_LE(r.times.arrival, *r.times.first_scheduled);
  EXPECT_LE(*r.times.first_scheduled, *r.times.first_token);
  EXPECT_LE(*r.times.first_token, *r.times.finished);
  ASSERT_EQ(r.token_times.size(), 5u);
  EXPECT_EQ(r.token_times.front(), *r.times.first_token);
  EXPECT_TRUE(std::is_sorted(r.token_times.begin(), r.token_times.end()));
  EXPECT_EQ(r.usage.prompt_tokens, 7);
  EXPECT_EQ(r.usage.completion_tokens, 5);
}

// A consumer woken by an output finds that output already counted in the stats: a client that
// has read its last token and then asks /metrics must see it there.
TEST_P(EngineTest, StatsCountEachOutputBeforeItIsPosted) {
  std::mt19937 rng(21);
  EngineCore engine(*runner, *tokenizer, {});
  auto handle = engine.submit({random_prompt(rng, 6), greedy(4)});
  std::int64_t received = 0;
  std::vector<std::string> stale;  // gtest assertions stay on the test's own frames
  handle.on_ready([&] {
    const auto out = handle.poll();
    if (!out) return;
    received += static_cast<std::int64_t>(out->choices[0].token_ids.size());
    const auto s = engine.stats();
    if (s.generation_tokens != received || (out->finished && s.num_running != 0)) {
      stale.push_back(fmt::format("received {} tokens (finished {}), stats: {} generated, {} running",
                                  received, out->finished, s.generation_tokens, s.num_running));
    }
  });
  for (int step = 0; step < 100 && !handle.done(); ++step) engine.step();
  EXPECT_EQ(received, 4);
  EXPECT_TRUE(stale.empty()) << fmt::format("{}", fmt::join(stale, "\n"));
}

TEST_P(EngineTest, InvalidRequestsAreRefusedNamingTheField) {
  EngineCore engine(*runner, *tokenizer, {});
  const auto max_len = engine.max_model_len();
  auto refused = [&](EngineRequest request) -> std::string {
    try {
      engine.submit(std::move(request));
    } catch (const InvalidParameter& e) {
      return e.param();
    }
    return "accepted";
  };
  SamplingParams bad_temperature;
  bad_temperature.temperature = -1.0f;
  EXPECT_EQ(refused({{1, 2}, bad_temperature}), "temperature");
  EXPECT_EQ(refused({{}, {}}), "prompt");
  EXPECT_EQ(refused({{1, runner->spec().vocab_size}, {}}), "prompt");
  SamplingParams too_long;
  too_long.max_tokens = max_len;
  EXPECT_EQ(refused({{1, 2}, too_long}), "max_tokens");
  SamplingParams many;
  many.n = 300;
  EXPECT_EQ(refused({{1}, many}), "n");
  config::EngineConfig tiny;
  tiny.kv_cache_memory = kv_bytes(2, 16);  // cannot hold one sequence of max_model_len
  EXPECT_THROW(EngineCore(*runner, *tokenizer, tiny), Error);
}

INSTANTIATE_TEST_SUITE_P(TinyModels, EngineTest, ::testing::Values("gpt2-f32", "qwen2-f32"),
                         [](const auto& test) {
                           return std::string(test.param) == "gpt2-f32" ? "gpt2" : "qwen2";
                         });

}  // namespace
}  // namespace llmserve::engine
