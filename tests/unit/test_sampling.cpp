#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "llmserve/engine/sampling.h"

namespace llmserve::engine {
namespace {

TEST(Sampling, LogSoftmaxNormalises) {
  const std::vector<float> logits = {1000.0f, 999.0f, -5.0f, 3.0f};
  const auto lp = log_softmax(logits);
  double sum = 0;
  for (float x : lp) sum += std::exp(double{x});
  EXPECT_NEAR(sum, 1.0, 1e-6);
  EXPECT_NEAR(lp[0] - lp[1], 1.0, 1e-4);
}

TEST(Sampling, TopLogprobsOrderedWithTiesByLowerId) {
  const std::vector<float> lp = {-3.0f, -1.0f, -1.0f, -0.5f, -9.0f};
  const auto top = top_logprobs(lp, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id, 3);
  EXPECT_EQ(top[1].id, 1);
  EXPECT_EQ(top[2].id, 2);
  EXPECT_EQ(top_logprobs(lp, 10).size(), lp.size());
}

TEST(Sampling, GreedyIsArgmax) {
  std::mt19937_64 rng(1);
  EXPECT_EQ(sample_token(std::vector<float>{0.1f, 2.0f, 2.0f, -1.0f}, 0.0f, rng), 1);
}

// With temperature 1 the empirical distribution approaches softmax(logits).
TEST(Sampling, TemperatureFollowsSoftmax) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  std::mt19937_64 rng(std::random_device{}());
  std::map<int, int> counts;
  const int n = 60000;
  for (int i = 0; i < n; ++i) ++counts[sample_token(logits, 1.0f, rng)];
  const auto lp = log_softmax(logits);
  for (int id = 0; id < 3; ++id) {
    EXPECT_NEAR(counts[id] / double(n), std::exp(lp[id]), 0.01) << id;
  }
}

TEST(Sampling, SeedReproducible) {
  const std::vector<float> logits = {0.3f, 0.1f, 0.2f, 0.4f};
  std::mt19937_64 a(42), b(42);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(sample_token(logits, 0.8f, a), sample_token(logits, 0.8f, b));
}

}  // namespace
}  // namespace llmserve::engine
