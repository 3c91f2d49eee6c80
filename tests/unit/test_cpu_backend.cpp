#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "llmserve/backend/cpu_backend.h"
#include "llmserve/common/error.h"

namespace llmserve::backend {
namespace {

// Each op against a plain double-precision twin written from the op's definition, on fresh
// random inputs. fp32 tolerance: relative error 1e-5 on O(1) values.
class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto seed = std::random_device{}();
    rng_.seed(seed);
    RecordProperty("seed", static_cast<int>(seed));
    backend_ = make_cpu_backend();
  }

  std::vector<float> random(std::size_t n, float stddev = 1.0f) {
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng_);
    return v;
  }
  Tensor upload(const std::vector<float>& v, std::vector<std::int64_t> shape) {
    return backend_->upload(v, std::move(shape));
  }
  std::vector<float> download(const Tensor& t) {
    std::vector<float> v(static_cast<std::size_t>(t.num_elements()));
    backend_->download(t, v);
    return v;
  }
  static void expect_close(const std::vector<float>& got, const std::vector<double>& want,
                           double tol = 1e-5) {
    ASSERT_EQ(got.size(), want.size());
    double max_err = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      max_err = std::max(max_err, std::abs(got[i] - want[i]) / (1.0 + std::abs(want[i])));
    }
    EXPECT_LE(max_err, tol);
  }
  // A one-sequence batch of `t` new tokens at positions 0..t-1 in blocks 0.., for row-wise ops.
  Batch trivial_batch(std::int32_t t) {
    Batch b;
    b.input_ids.assign(static_cast<std::size_t>(t), 0);
    b.positions.resize(static_cast<std::size_t>(t));
    std::iota(b.positions.begin(), b.positions.end(), 0);
    b.slot_mapping.assign(b.positions.begin(), b.positions.end());
    b.query_start = {0, t};
    b.context_lens = {t};
    b.max_blocks_per_seq = (t + 15) / 16;
    b.block_tables.resize(static_cast<std::size_t>(b.max_blocks_per_seq));
    std::iota(b.block_tables.begin(), b.block_tables.end(), 0);
    return b;
  }

  std::mt19937 rng_;
  std::unique_ptr<Backend> backend_;
};

// m = 1 takes the sgemv path, larger m the sgemm one.
TEST_F(CpuBackendTest, LinearWithAndWithoutBias) {
  for (const std::int64_t m : {1, 7}) {
    const std::int64_t k = 33, n = 19;
    const auto x = random(m * k), w = random(n * k), b = random(n);
    for (bool with_bias : {false, true}) {
      Tensor out = backend_->empty({m, n});
      Tensor bias = upload(b, {n});
      backend_->linear(upload(x, {m, k}), upload(w, {n, k}), with_bias ? &bias : nullptr, out);
      std::vector<double> want(static_cast<std::size_t>(m * n));
      for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < n; ++j) {
          double acc = with_bias ? b[j] : 0.0;
          for (std::int64_t p = 0; p < k; ++p) acc += double{x[i * k + p]} * w[j * k + p];
          want[static_cast<std::size_t>(i * n + j)] = acc;
        }
      }
      expect_close(download(out), want);
    }
  }
}

TEST_F(CpuBackendTest, LayerNormAndRmsNormWithResidual) {
  const std::int64_t rows = 5, n = 48;
  const auto res = random(rows * n), x = random(rows * n), w = random(n), b = random(n);
  for (NormType type : {NormType::kLayerNorm, NormType::kRmsNorm}) {
    Tensor residual = upload(res, {rows, n});
    Tensor out = backend_->empty({rows, n});
    Tensor bias = upload(b, {n});
    const bool ln = type == NormType::kLayerNorm;
    backend_->add_norm(type, residual, upload(x, {rows, n}), upload(w, {n}), ln ? &bias : nullptr,
                       1e-5f, out);
    std::vector<double> want_res(res.size()), want(res.size());
    for (std::int64_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        want_res[r * n + i] = double{res[r * n + i]} + x[r * n + i];
        mean += want_res[r * n + i] / n;
      }
      if (!ln) mean = 0;
      for (std::int64_t i = 0; i < n; ++i) var += std::pow(want_res[r * n + i] - mean, 2) / n;
      for (std::int64_t i = 0; i < n; ++i) {
        want[r * n + i] =
            (want_res[r * n + i] - mean) / std::sqrt(var + 1e-5) * w[i] + (ln ? b[i] : 0.0);
      }
    }
    expect_close(download(residual), want_res);
    expect_close(download(out), want);
  }
}

TEST_F(CpuBackendTest, RotaryRotatesHalves) {
  KvCacheLayout layout{1, 4, 16, 4, 2, 16};
  backend_->allocate_kv_cache(layout);
  const std::int32_t t = 37;
  Batch batch = trivial_batch(t);
  backend_->begin_step(batch);
  const std::int64_t width = (4 + 2 * 2) * 16;
  const auto x = random(t * width);
  Tensor qkv = upload(x, {t, width});
  const float theta = 1e6f;
  backend_->rotary(qkv, theta);
  std::vector<double> want(x.begin(), x.end());
  for (std::int32_t p = 0; p < t; ++p) {
    for (int h = 0; h < 6; ++h) {  // q and k heads rotate; v heads do not
      for (int i = 0; i < 8; ++i) {
        const double angle = p / std::pow(double{theta}, 2.0 * i / 16);
        const double a = x[p * width + h * 16 + i], b = x[p * width + h * 16 + i + 8];
        want[p * width + h * 16 + i] = a * std::cos(angle) - b * std::sin(angle);
        want[p * width + h * 16 + i + 8] = b * std::cos(angle) + a * std::sin(angle);
      }
    }
  }
  expect_close(download(qkv), want);
}

TEST_F(CpuBackendTest, Activations) {
  const std::int64_t rows = 3, inner = 20;
  const auto gu = random(rows * 2 * inner, 3.0f);
  Tensor out = backend_->empty({rows, inner});
  backend_->silu_mul(upload(gu, {rows, 2 * inner}), out);
  std::vector<double> want(static_cast<std::size_t>(rows * inner));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < inner; ++i) {
      const double g = gu[r * 2 * inner + i], u = gu[r * 2 * inner + inner + i];
      want[r * inner + i] = g / (1.0 + std::exp(-g)) * u;
    }
  }
  expect_close(download(out), want);

  const auto x = random(100, 3.0f);
  Tensor t = upload(x, {100});
  backend_->gelu_new(t);
  std::vector<double> want_gelu(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    want_gelu[i] = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
  }
  expect_close(download(t), want_gelu);
}

struct AttentionCase {
  std::int32_t num_heads, num_kv_heads, head_dim, block_size;
};

class PagedAttentionTest : public CpuBackendTest,
                           public ::testing::WithParamInterface<AttentionCase> {};

// Several sequences with awkward context lengths, each a prefill chunk or a decode token, their
// blocks scattered in a shuffled pool: the paged result must equal dense causal attention.
TEST_P(PagedAttentionTest, MatchesDenseCausalAttention) {
  const auto [nh, nkv, hd, bs] = GetParam();
  const std::vector<std::int32_t> contexts = {1, 17, 5, 40, 33};
  const std::vector<std::int32_t> new_tokens = {1, 17, 1, 9, 1};  // prefill, chunk, decodes
  const std::int32_t max_blocks = 3;
  const std::int32_t num_blocks = static_cast<std::int32_t>(contexts.size()) * max_blocks + 3;
  std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng_);
  if (std::int64_t{max_blocks} * bs < 40) GTEST_SKIP() << "block size too small for this case";

  backend_->allocate_kv_cache({1, num_blocks, bs, nh, nkv, hd});
  const std::int64_t width = std::int64_t{nh + 2 * nkv} * hd;
  // Dense per-sequence K/V for every position and Q for the new ones.
  std::vector<std::vector<float>> qkv_seq;
  Batch batch;
  batch.max_blocks_per_seq = max_blocks;
  batch.query_start = {0};
  std::size_t next_block = 0;
  for (std::size_t s = 0; s < contexts.size(); ++s) {
    qkv_seq.push_back(random(static_cast<std::size_t>(contexts[s] * width)));
    for (std::int32_t k = 0; k < max_blocks; ++k) batch.block_tables.push_back(pool[next_block++]);
    batch.context_lens.push_back(contexts[s]);
    batch.query_start.push_back(batch.query_start.back() + contexts[s]);
  }
  // Step 1: write every position's K/V (a prefill of all contexts).
  std::vector<float> all;
  for (std::size_t s = 0; s < contexts.size(); ++s) {
    for (std::int32_t p = 0; p < contexts[s]; ++p) {
      batch.input_ids.push_back(0);
      batch.positions.push_back(p);
      const std::int32_t block = batch.block_tables[s * max_blocks + p / bs];
      batch.slot_mapping.push_back(std::int64_t{block} * bs + p % bs);
    }
    all.insert(all.end(), qkv_seq[s].begin(), qkv_seq[s].end());
  }
  backend_->begin_step(batch);
  Tensor all_qkv = upload(all, {batch.num_tokens(), width});
  backend_->write_kv(0, all_qkv);

  // Step 2: attention for only the last new_tokens[s] positions of each sequence.
  Batch step = batch;
  step.input_ids.clear();
  step.positions.clear();
  step.slot_mapping.clear();
  step.query_start = {0};
  std::vector<float> q_rows;
  for (std::size_t s = 0; s < contexts.size(); ++s) {
    for (std::int32_t p = contexts[s] - new_tokens[s]; p < contexts[s]; ++p) {
      step.input_ids.push_back(0);
      step.positions.push_back(p);
      step.slot_mapping.push_back(batch.slot_mapping[batch.query_start[s] + p]);
      q_rows.insert(q_rows.end(), qkv_seq[s].begin() + p * width,
                    qkv_seq[s].begin() + (p + 1) * width);
    }
    step.query_start.push_back(step.query_start.back() + new_tokens[s]);
  }
  backend_->begin_step(step);
  Tensor out = backend_->empty({step.num_tokens(), std::int64_t{nh} * hd});
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  backend_->paged_attention(0, upload(q_rows, {step.num_tokens(), width}), scale, out);

  std::vector<double> want;
  for (std::size_t s = 0; s < contexts.size(); ++s) {
    const auto& x = qkv_seq[s];
    for (std::int32_t p = contexts[s] - new_tokens[s]; p < contexts[s]; ++p) {
      for (std::int32_t h = 0; h < nh; ++h) {
        const std::int32_t g = h / (nh / nkv);
        std::vector<double> w(static_cast<std::size_t>(p + 1));
        double mx = -1e300, sum = 0;
        for (std::int32_t j = 0; j <= p; ++j) {
          double dot = 0;
          for (std::int32_t d = 0; d < hd; ++d) {
            dot += double{x[p * width + h * hd + d]} * x[j * width + (nh + g) * hd + d];
          }
          w[j] = dot * scale;
          mx = std::max(mx, w[j]);
        }
        for (auto& v : w) sum += (v = std::exp(v - mx));
        for (std::int32_t d = 0; d < hd; ++d) {
          double acc = 0;
          for (std::int32_t j = 0; j <= p; ++j)
            acc += w[j] / sum * x[j * width + (nh + nkv + g) * hd + d];
          want.push_back(acc);
        }
      }
    }
  }
  expect_close(download(out), want);
}

INSTANTIATE_TEST_SUITE_P(GqaRatiosAndBlockSizes, PagedAttentionTest,
                         ::testing::Values(AttentionCase{4, 4, 16, 16}, AttentionCase{4, 1, 16, 16},
                                           AttentionCase{8, 2, 64, 16}, AttentionCase{8, 1, 32, 32},
                                           AttentionCase{2, 2, 8, 16}));

// Copy-on-write: after a block copy, attention through the copy equals attention through the
// original, in every layer, and the copy happens before the step's own K/V writes.
TEST_F(CpuBackendTest, BlockCopiesDuplicateEveryLayerBeforeTheStepWrites) {
  const std::int32_t nh = 2, nkv = 1, hd = 8, layers = 3, t = 5;
  backend_->allocate_kv_cache({layers, 4, 16, nh, nkv, hd});
  const std::int64_t width = std::int64_t{nh + 2 * nkv} * hd;
  Batch fill = trivial_batch(t);  // positions 0..4 in block 0
  backend_->begin_step(fill);
  std::vector<Tensor> qkv;
  for (std::int32_t l = 0; l < layers; ++l) {
    qkv.push_back(upload(random(static_cast<std::size_t>(t * width)), {t, width}));
    backend_->write_kv(l, qkv.back());
  }
  auto attend = [&](const Batch& step, std::int32_t layer) {
    backend_->begin_step(step);
    Tensor out = backend_->empty({1, std::int64_t{nh} * hd});
    backend_->paged_attention(layer, qkv[layer].view_rows(1), 0.5f, out);
    return download(out);
  };
  Batch read = trivial_batch(1);  // one query at position 4, reading positions 0..4 of block 0
  read.positions = {4};
  read.context_lens = {5};
  read.slot_mapping = {4};
  Batch copied = read;
  copied.block_tables = {3};
  copied.slot_mapping = {3 * 16 + 4};
  copied.block_copies = {{0, 3}};
  for (std::int32_t l = 0; l < layers; ++l) {
    const auto want = attend(read, l);
    EXPECT_EQ(attend(copied, l), want) << "layer " << l;
  }
  // Overwrite block 0 afterwards: the copy in block 3 must keep the old values.
  backend_->begin_step(fill);
  const auto before = attend(copied, 0);
  backend_->begin_step(fill);
  backend_->write_kv(0, upload(random(static_cast<std::size_t>(t * width)), {t, width}));
  Batch without_copy = copied;
  without_copy.block_copies.clear();
  EXPECT_EQ(attend(without_copy, 0), before);
}

TEST_F(CpuBackendTest, RejectsBadCacheGeometryAndStepsWithoutCache) {
  Batch batch = trivial_batch(3);
  EXPECT_THROW(backend_->begin_step(batch), Error);
  EXPECT_THROW(backend_->allocate_kv_cache({1, 4, 0, 2, 1, 8}), Error);
  EXPECT_THROW(backend_->allocate_kv_cache({1, 0, 16, 2, 1, 8}), Error);
  EXPECT_THROW(backend_->allocate_kv_cache({1, 4, 16, 3, 2, 8}), Error);
}

// check_embedding_inputs, which both backends call in embed() before reading a row.
TEST_F(CpuBackendTest, EmbedRejectsIdsOutsideTheVocabularyAndPositionsBeyondTheTable) {
  backend_->allocate_kv_cache({1, 4, 16, 2, 1, 8});
  const Tensor table = upload(random(10 * 8), {10, 8});
  const Tensor positions = upload(random(4 * 8), {4, 8});
  Tensor out = backend_->empty({5, 8});
  Batch batch = trivial_batch(5);  // positions 0..4
  batch.input_ids = {0, 1, 2, 3, 9};
  backend_->begin_step(batch);
  EXPECT_NO_THROW(backend_->embed(table, nullptr, out));
  EXPECT_THROW(backend_->embed(table, &positions, out), Error);  // position 4 of 4 learned
  for (const std::int32_t bad : {10, -1}) {
    batch.input_ids[2] = bad;
    backend_->begin_step(batch);
    EXPECT_THROW(backend_->embed(table, nullptr, out), Error) << bad;
  }
}

TEST_F(CpuBackendTest, RejectsInconsistentBatches) {
  backend_->allocate_kv_cache({1, 4, 16, 2, 1, 8});
  // query_start out of order: must be caught before anything is read through it.
  Batch two = trivial_batch(5);
  two.query_start = {0, 100, 5};
  two.context_lens = {5, 5};
  two.block_tables = {0, 1};
  EXPECT_THROW(backend_->begin_step(two), Error);
  Batch batch = trivial_batch(5);
  batch.slot_mapping[2] = 999;
  EXPECT_THROW(backend_->begin_step(batch), Error);
  batch = trivial_batch(5);
  batch.block_tables[0] = 7;
  EXPECT_THROW(backend_->begin_step(batch), Error);
  batch = trivial_batch(5);
  batch.positions[4] = 5;
  EXPECT_THROW(backend_->begin_step(batch), Error);
  batch = trivial_batch(5);
  batch.query_start = {0, 4};
  EXPECT_THROW(backend_->begin_step(batch), Error);
  batch = trivial_batch(5);
  batch.logits_rows = {5};
  EXPECT_THROW(backend_->begin_step(batch), Error);
  for (auto copy : {Batch::BlockCopy{0, 4}, Batch::BlockCopy{-1, 1}, Batch::BlockCopy{2, 2}}) {
    batch = trivial_batch(5);
    batch.block_copies = {copy};
    EXPECT_THROW(backend_->begin_step(batch), Error);
  }
  batch = trivial_batch(5);
  backend_->begin_step(batch);
  batch.input_ids[0] = 100;
  Tensor out = backend_->empty({5, 8});
  EXPECT_THROW(backend_->embed(backend_->empty({10, 8}), nullptr, out), Error);
}

}  // namespace
}  // namespace llmserve::backend
