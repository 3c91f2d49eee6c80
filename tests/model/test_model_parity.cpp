// Logits of our forward (CPU backend, paged KV, flattened varlen batches) against the independent
// numpy reference on the tiny checkpoints. Tolerance: max |log-prob difference| <= 1e-4 (fp32
// compute; bf16 checkpoints are compared with the reference run on the same bf16 weights).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <span>

#include "llmserve/backend/cpu_backend.h"
#include "llmserve/model/model_runner.h"
#include "reference_runner.h"

namespace llmserve::model {
namespace {

constexpr double kLogprobTolerance = 1e-4;

// In double, so the comparison measures the forward pass, not this.
std::vector<float> log_softmax(std::span<const float> logits) {
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(x - max_logit);
  const double log_z = max_logit + std::log(sum);
  std::vector<float> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<float>(logits[i] - log_z);
  return out;
}

class ModelParityTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(LLMSERVE_FIXTURES_DIR) / GetParam();
    backend_ = backend::make_cpu_backend();
    runner_ = std::make_unique<ModelRunner>(ModelRunner::load(dir_, *backend_));
    const auto seed = std::random_device{}();
    rng_.seed(seed);
    RecordProperty("seed", static_cast<int>(seed));
  }

  std::vector<std::int32_t> random_ids(std::size_t n) {
    std::uniform_int_distribution<std::int32_t> dist(0, runner_->spec().vocab_size - 1);
    std::vector<std::int32_t> ids(n);
    for (auto& id : ids) id = dist(rng_);
    return ids;
  }

  // Logprobs of every logits row of a step.
  std::vector<std::vector<float>> run(const backend::Batch& batch) {
    const std::int32_t vocab = runner_->spec().vocab_size;
    std::vector<float> flat(batch.logits_rows.size() * static_cast<std::size_t>(vocab));
    backend_->download(runner_->execute(batch), flat);
    std::vector<std::vector<float>> rows;
    for (std::size_t r = 0; r < batch.logits_rows.size(); ++r) {
      rows.push_back(log_softmax(std::span<const float>(flat).subspan(
          r * static_cast<std::size_t>(vocab), static_cast<std::size_t>(vocab))));
    }
    return rows;
  }

  static double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, double{std::abs(a[i] - b[i])});
    return m;
  }

  std::filesystem::path dir_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<ModelRunner> runner_;
  std::mt19937 rng_;
};

// Sequences in one flattened batch, each given a scattered set of blocks from a shuffled pool.
struct PagedSequences {
  std::int32_t block_size;
  std::vector<std::vector<std::int32_t>> block_tables;
  std::int32_t max_blocks;

  std::int64_t slot(std::size_t seq, std::int32_t pos) const {
    return std::int64_t{block_tables[seq][static_cast<std::size_t>(pos / block_size)]} *
               block_size +
           pos % block_size;
  }
};

PagedSequences scatter_blocks(std::size_t num_seqs, std::int32_t max_len, std::int32_t block_size,
                              std::int32_t num_blocks, std::mt19937& rng) {
  PagedSequences paged{block_size, {}, (max_len + block_size - 1) / block_size};
  std::vector<std::int32_t> pool(static_cast<std::size_t>(num_blocks));
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  std::size_t next = 0;
  for (std::size_t s = 0; s < num_seqs; ++s) {
    paged.block_tables.emplace_back(
        pool.begin() + static_cast<std::ptrdiff_t>(next),
        pool.begin() +
            static_cast<std::ptrdiff_t>(next + static_cast<std::size_t>(paged.max_blocks)));
    next += static_cast<std::size_t>(paged.max_blocks);
  }
  return paged;
}

// Appends tokens [begin, end) of sequence `s` to the batch (all rows want logits).
void append_chunk(backend::Batch& batch, const PagedSequences& paged, std::size_t s,
                  const std::vector<std::int32_t>& ids, std::int32_t begin, std::int32_t end) {
  for (std::int32_t p = begin; p < end; ++p) {
    batch.logits_rows.push_back(batch.num_tokens());
    batch.input_ids.push_back(ids[static_cast<std::size_t>(p)]);
    batch.positions.push_back(p);
    batch.slot_mapping.push_back(paged.slot(s, p));
  }
  if (batch.query_start.empty()) batch.query_start.push_back(0);
  batch.query_start.push_back(batch.num_tokens());
  batch.context_lens.push_back(end);
  batch.block_tables.insert(batch.block_tables.end(), paged.block_tables[s].begin(),
                            paged.block_tables[s].end());
  batch.max_blocks_per_seq = paged.max_blocks;
}

// Prefill of several prompts of mixed lengths in one batch: every position's logits.
TEST_P(ModelParityTest, MixedLengthPrefill) {
  const std::vector<std::size_t> lengths = {1, 2 + rng_() % 15, 17 + rng_() % 20, 40};
  std::vector<std::vector<std::int32_t>> prompts;
  for (auto n : lengths) prompts.push_back(random_ids(n));
  const auto want = testing::reference_logprobs(dir_, prompts, runner_->spec().vocab_size);

  const std::int32_t bs = 16;
  runner_->allocate_kv_cache(32, bs);
  const auto paged = scatter_blocks(prompts.size(), 40, bs, 32, rng_);
  backend::Batch batch;
  for (std::size_t s = 0; s < prompts.size(); ++s) {
    append_chunk(batch, paged, s, prompts[s], 0, static_cast<std::int32_t>(prompts[s].size()));
  }
  const auto got = run(batch);
  std::size_t row = 0;
  double worst = 0.0;
  for (std::size_t s = 0; s < prompts.size(); ++s) {
    for (std::size_t p = 0; p < prompts[s].size(); ++p)
      worst = std::max(worst, max_abs_diff(got[row++], want[s][p]));
  }
  EXPECT_LE(worst, kLogprobTolerance);
  RecordProperty("max_abs_logprob_error", std::to_string(worst));
}

// A chunked prefill followed by batched decode steps, crossing block boundaries (block size 4):
// each step mixes sequences at different lengths, as the engine will.
TEST_P(ModelParityTest, ChunkedPrefillThenBatchedDecode) {
  const std::vector<std::int32_t> prompt_lens = {3, 9, 14};
  const std::int32_t decode_steps = 11;
  std::vector<std::vector<std::int32_t>> seqs;
  for (auto n : prompt_lens) seqs.push_back(random_ids(static_cast<std::size_t>(n + decode_steps)));
  const auto want = testing::reference_logprobs(dir_, seqs, runner_->spec().vocab_size);

  const std::int32_t bs = 4;
  const std::int32_t max_len = prompt_lens.back() + decode_steps;
  runner_->allocate_kv_cache(64, bs);
  const auto paged = scatter_blocks(seqs.size(), max_len, bs, 64, rng_);

  double worst = 0.0;
  auto check_step = [&](const backend::Batch& batch) {
    const auto got = run(batch);
    std::size_t row = 0;
    for (std::size_t s = 0; s < seqs.size(); ++s) {
      for (std::int32_t t = batch.query_start[s]; t < batch.query_start[s + 1]; ++t) {
        const auto pos = static_cast<std::size_t>(batch.positions[static_cast<std::size_t>(t)]);
        worst = std::max(worst, max_abs_diff(got[row++], want[s][pos]));
      }
    }
  };
  // Prefill in two chunks: the first half of every prompt, then the rest.
  for (int chunk = 0; chunk < 2; ++chunk) {
    backend::Batch batch;
    for (std::size_t s = 0; s < seqs.size(); ++s) {
      const std::int32_t half = prompt_lens[s] / 2;
      append_chunk(batch, paged, s, seqs[s], chunk == 0 ? 0 : half,
                   chunk == 0 ? half : prompt_lens[s]);
    }
    check_step(batch);
  }
  for (std::int32_t step = 0; step < decode_steps; ++step) {
    backend::Batch batch;
    for (std::size_t s = 0; s < seqs.size(); ++s) {
      const std::int32_t pos = prompt_lens[s] + step;
      append_chunk(batch, paged, s, seqs[s], pos, pos + 1);
    }
    check_step(batch);
  }
  EXPECT_LE(worst, kLogprobTolerance);
  RecordProperty("max_abs_logprob_error", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, ModelParityTest,
                         ::testing::Values("gpt2-f32", "gpt2-bf16-prefixed", "qwen2-f32",
                                           "qwen2-bf16-sharded", "qwen2-f32-noprefix", "llama-f32"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           std::string name = param.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace llmserve::model
