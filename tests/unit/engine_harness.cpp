#include "engine_harness.h"

#include "llmserve/engine/kv_cache_plan.h"

namespace llmserve::engine::testing {

void accumulate(RequestOutput&& output, JobResult& result, bool& finished) {
  EXPECT_FALSE(finished) << "an output after the final one";
  for (auto& delta : output.choices) {
    ASSERT_LT(static_cast<std::size_t>(delta.index), result.choices.size());
    Choice& c = result.choices[static_cast<std::size_t>(delta.index)];
    EXPECT_FALSE(c.finish) << "a delta after the choice finished";
    c.tokens.insert(c.tokens.end(), delta.token_ids.begin(), delta.token_ids.end());
    c.text += delta.text;
    if (delta.index == 0) {
      result.token_times.insert(result.token_times.end(), delta.token_times.begin(),
                                delta.token_times.end());
    }
    EXPECT_EQ(delta.token_times.size(), delta.token_ids.size());
    if (delta.finish_reason) {
      c.finish = delta.finish_reason;
      c.stop_reason = delta.stop_reason;
    }
  }
  if (output.error) result.error = output.error;
  result.usage = output.usage;
  result.times = output.times;
  if (output.finished) {
    finished = true;
    for (const auto& c : result.choices) EXPECT_TRUE(c.finish.has_value());
  }
}

EngineTestBase::EngineTestBase(const std::string& model, backend::Backend* backend) {
  if (backend == nullptr) {
    own_backend = backend::make_cpu_backend();
    backend = own_backend.get();
  }
  tokenizer =
      std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_directory(fixture(model)));
  runner = std::make_unique<model::ModelRunner>(model::ModelRunner::load(fixture(model), *backend));
}

std::vector<JobResult> EngineTestBase::run_jobs(const std::vector<Job>& jobs,
                                                const config::EngineConfig& config,
                                                EngineStats* stats) {
  EngineCore engine(*runner, *tokenizer, config);
  std::vector<JobResult> results(jobs.size());
  std::vector<std::optional<RequestHandle>> handles(jobs.size());
  std::vector<bool> finished(jobs.size(), false);
  std::size_t num_finished = 0;
  for (std::int32_t step = 0; num_finished < jobs.size(); ++step) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].arrival_step == step) {
        handles[i] = engine.submit({jobs[i].prompt, jobs[i].params});
        results[i].choices.resize(static_cast<std::size_t>(jobs[i].params.n));
      }
    }
    engine.step();
    engine.block_manager().check_invariants();
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!handles[i]) continue;
      if (auto out = handles[i]->poll()) {
        bool was_finished = finished[i];
        accumulate(std::move(*out), results[i], was_finished);
        if (was_finished && !finished[i]) {
          finished[i] = true;
          ++num_finished;
        }
      }
    }
    if (step > 100000) {
      ADD_FAILURE() << "requests did not finish";
      break;
    }
  }
  const auto final_stats = engine.stats();
  EXPECT_EQ(final_stats.num_used_blocks, 0) << "blocks leaked";
  EXPECT_EQ(final_stats.num_running + final_stats.num_waiting, 0);
  if (stats != nullptr) *stats = final_stats;
  return results;
}

std::int64_t EngineTestBase::kv_bytes(std::int32_t blocks, std::int32_t block_size) const {
  return kv_bytes_per_token(runner->spec(), dtype_size_bytes(runner->backend().compute_dtype())) *
         block_size * blocks;
}

SamplingParams EngineTestBase::greedy(std::int32_t max_tokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

std::vector<std::int32_t> EngineTestBase::random_prompt(std::mt19937& rng,
                                                        std::size_t length) const {
  // Ordinary tokens only: ids below 50000 are plain text in both fixtures' vocabularies.
  std::uniform_int_distribution<std::int32_t> id(0, 49999);
  std::vector<std::int32_t> prompt(length);
  for (auto& t : prompt) t = id(rng);
  return prompt;
}

}  // namespace llmserve::engine::testing
