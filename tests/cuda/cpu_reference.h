#pragma once
// The CPU backend as the judge of what the CUDA backend generates: teacher-forced next-token
// log-probabilities from a CPU ModelRunner on the same checkpoint, and the log-softmax that CUDA
// and CPU logits are compared in. Shared by test_cuda_model and test_cuda_serve.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "llmserve/backend/batch.h"
#include "llmserve/backend/cpu_backend.h"
#include "llmserve/model/model_runner.h"

namespace llmserve::testing {

// In double, so that a comparison measures the forward passes, not this.
inline std::vector<double> log_softmax(std::span<const float> logits) {
  double max_logit = -INFINITY;
  for (float x : logits) max_logit = std::max(max_logit, double{x});
  double sum = 0.0;
  for (float x : logits) sum += std::exp(double{x} - max_logit);
  const double log_z = max_logit + std::log(sum);
  std::vector<double> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = double{logits[i]} - log_z;
  return out;
}

// Log-softmax of each [rows, vocab] row of downloaded logits.
inline std::vector<std::vector<double>> log_softmax_rows(const std::vector<float>& logits,
                                                         std::size_t vocab) {
  std::vector<std::vector<double>> rows;
  for (std::size_t r = 0; r * vocab < logits.size(); ++r) {
    rows.push_back(log_softmax(std::span<const float>(logits).subspan(r * vocab, vocab)));
  }
  return rows;
}

// A CPU ModelRunner with a KV cache for one sequence of the model's whole context; every call is
// one prefill of the ids given, so calls are independent of each other.
class CpuReference {
 public:
  explicit CpuReference(const std::filesystem::path& dir)
      : backend_(backend::make_cpu_backend()), runner_(model::ModelRunner::load(dir, *backend_)) {
    max_len_ = runner_.spec().max_position_embeddings;
    runner_.allocate_kv_cache((max_len_ + kBlockSize - 1) / kBlockSize, kBlockSize);
  }

  const model::ModelSpec& spec() const { return runner_.spec(); }

  // Log-softmax of the next-token logits after ids[0..p], for each p in `positions`.
  std::vector<std::vector<double>> next_token_logprobs(const std::vector<std::int32_t>& ids,
                                                       const std::vector<std::int32_t>& positions) {
    const auto n = static_cast<std::int32_t>(ids.size());
    if (n == 0 || n > max_len_) throw std::invalid_argument("CpuReference: bad sequence length");
    backend::Batch batch;
    batch.input_ids = ids;
    for (std::int32_t p = 0; p < n; ++p) {
      batch.positions.push_back(p);
      batch.slot_mapping.push_back(p);  // the identity block table: block k is block k
    }
    batch.query_start = {0, n};
    batch.context_lens = {n};
    batch.max_blocks_per_seq = (n + kBlockSize - 1) / kBlockSize;
    for (std::int32_t k = 0; k < batch.max_blocks_per_seq; ++k) batch.block_tables.push_back(k);
    batch.logits_rows = positions;
    const auto vocab = static_cast<std::size_t>(runner_.spec().vocab_size);
    std::vector<float> logits(positions.size() * vocab);
    backend_->download(runner_.execute(batch), logits);
    return log_softmax_rows(logits, vocab);
  }

  // How far below the CPU's most likely token each of `generated` is, teacher-forced after
  // `prompt`: gap[j] = max log-prob - log-prob of generated[j], at the position before it.
  std::vector<double> greedy_gaps(const std::vector<std::int32_t>& prompt,
                                  const std::vector<std::int32_t>& generated) {
    if (generated.empty()) return {};
    std::vector<std::int32_t> ids = prompt;
    ids.insert(ids.end(), generated.begin(), generated.end());
    std::vector<std::int32_t> positions;
    for (std::size_t j = 0; j < generated.size(); ++j) {
      positions.push_back(static_cast<std::int32_t>(prompt.size() + j) - 1);
    }
    const auto rows = next_token_logprobs(ids, positions);
    std::vector<double> gaps;
    for (std::size_t j = 0; j < generated.size(); ++j) {
      const auto& row = rows[j];
      gaps.push_back(*std::max_element(row.begin(), row.end()) -
                     row.at(static_cast<std::size_t>(generated[j])));
    }
    return gaps;
  }

 private:
  static constexpr std::int32_t kBlockSize = 16;
  std::unique_ptr<backend::Backend> backend_;
  model::ModelRunner runner_;
  std::int32_t max_len_ = 0;
};

}  // namespace llmserve::testing
