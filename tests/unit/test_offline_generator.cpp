#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "llmserve/backend/cpu_backend.h"
#include "llmserve/common/error.h"
#include "llmserve/engine/offline_generator.h"

namespace llmserve::engine {
namespace {

class OfflineGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = backend::make_cpu_backend();
    runner_ = std::make_unique<model::ModelRunner>(model::ModelRunner::load(
        std::filesystem::path(LLMSERVE_FIXTURES_DIR) / "gpt2-f32", *backend_));
  }
  OfflineRequest request() const {
    OfflineRequest r;
    r.prompt_ids = {464, 2068, 7586, 21831};
    r.max_tokens = 8;
    r.ignore_eos = true;
    return r;
  }
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<model::ModelRunner> runner_;
};

TEST_F(OfflineGeneratorTest, GreedyIsDeterministicAndLogprobsAreSorted) {
  auto r = request();
  r.logprobs = 4;
  const auto a = generate_offline(*runner_, r);
  const auto b = generate_offline(*runner_, r);
  EXPECT_EQ(a.token_ids, b.token_ids);
  EXPECT_EQ(a.finish_reason, "length");
  ASSERT_EQ(a.logprobs.size(), a.token_ids.size());
  for (std::size_t i = 0; i < a.token_ids.size(); ++i) {
    ASSERT_EQ(a.logprobs[i].size(), 4u);
    EXPECT_EQ(a.logprobs[i][0].id, a.token_ids[i]);  // greedy picks the most likely token
    for (std::size_t k = 1; k < 4; ++k)
      EXPECT_GE(a.logprobs[i][k - 1].logprob, a.logprobs[i][k].logprob);
  }
}

// An eos id stops generation right after it is sampled, unless ignore_eos; any listed id counts.
TEST_F(OfflineGeneratorTest, StopsAtAnyEosId) {
  auto r = request();
  const auto greedy = generate_offline(*runner_, r).token_ids;
  r.ignore_eos = false;
  r.eos_token_ids = {50000, greedy[2]};
  const auto stopped = generate_offline(*runner_, r);
  EXPECT_EQ(stopped.finish_reason, "stop");
  EXPECT_EQ(stopped.token_ids, std::vector<std::int32_t>(greedy.begin(), greedy.begin() + 3));
  r.ignore_eos = true;
  EXPECT_EQ(generate_offline(*runner_, r).token_ids, greedy);
}

TEST_F(OfflineGeneratorTest, SeededSamplingIsReproducible) {
  auto r = request();
  r.temperature = 1.5f;
  r.seed = 7;
  EXPECT_EQ(generate_offline(*runner_, r).token_ids, generate_offline(*runner_, r).token_ids);
}

TEST_F(OfflineGeneratorTest, InvalidRequestsAreErrors) {
  const auto expect_error = [&](auto edit, const std::string& needle) {
    auto r = request();
    edit(r);
    try {
      generate_offline(*runner_, r);
      FAIL() << "expected an error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([](auto& r) { r.prompt_ids.clear(); }, "empty");
  expect_error([](auto& r) { r.max_tokens = 0; }, "max_tokens");
  expect_error([](auto& r) { r.temperature = std::nanf(""); }, "temperature");
  expect_error([](auto& r) { r.temperature = -1.0f; }, "temperature");
  expect_error([](auto& r) { r.logprobs = -1; }, "logprobs");
  expect_error([](auto& r) { r.block_size = 0; }, "block_size");
  expect_error([](auto& r) { r.prompt_ids.push_back(50257); }, "outside the vocabulary");
  expect_error([](auto& r) { r.max_tokens = 125; }, "exceeds the model's context of 128");
}

}  // namespace
}  // namespace llmserve::engine
