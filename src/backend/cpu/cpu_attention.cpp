// Paged causal attention, the CPU reference: every new token attends to positions 0..its own of
// its sequence, reading K/V slot by slot through the block table (never assuming contiguity).
// Query head h reads kv head h / (num_heads / num_kv_heads) (GQA).
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_backend.h"

namespace llmserve::backend {

void cpu_paged_attention(const Batch& batch, const KvCacheLayout& layout, const float* qkv,
                         const float* k_cache, const float* v_cache, float scale, float* out) {
  const std::int32_t nh = layout.num_heads;
  const std::int32_t nkv = layout.num_kv_heads;
  const std::int32_t hd = layout.head_dim;
  const std::int32_t group = nh / nkv;
  const std::int32_t bs = layout.block_size;
  const std::int64_t qkv_width = std::int64_t{nh + 2 * nkv} * hd;
  const std::int64_t kv_width = std::int64_t{nkv} * hd;
  const std::int64_t q_width = std::int64_t{nh} * hd;

  // Sequence of each new token, so the (token, head) loop below is flat.
  std::vector<std::int32_t> seq_of_token(static_cast<std::size_t>(batch.num_tokens()));
  for (std::int32_t s = 0; s < batch.num_seqs(); ++s) {
    std::fill(seq_of_token.begin() + batch.query_start[s],
              seq_of_token.begin() + batch.query_start[s + 1], s);
  }

  const std::int64_t work = std::int64_t{batch.num_tokens()} * nh;
#pragma omp parallel
  {
    std::vector<float> scores;
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t item = 0; item < work; ++item) {
      const std::int64_t t = item / nh;
      const std::int32_t h = static_cast<std::int32_t>(item % nh);
      const std::int32_t s = seq_of_token[static_cast<std::size_t>(t)];
      const std::int32_t* table =
          batch.block_tables.data() + std::int64_t{s} * batch.max_blocks_per_seq;
      const std::int32_t context = batch.positions[static_cast<std::size_t>(t)] + 1;
      const float* q = qkv + t * qkv_width + std::int64_t{h} * hd;
      const std::int64_t kv_offset = std::int64_t{h / group} * hd;
      auto slot = [&](std::int32_t j) { return std::int64_t{table[j / bs]} * bs + j % bs; };

      scores.resize(static_cast<std::size_t>(context));
      float max_score = -INFINITY;
      for (std::int32_t j = 0; j < context; ++j) {
        const float* k = k_cache + slot(j) * kv_width + kv_offset;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (std::int32_t d = 0; d < hd; ++d) dot += q[d] * k[d];
        scores[static_cast<std::size_t>(j)] = dot * scale;
        max_score = std::max(max_score, dot * scale);
      }
      double denom = 0.0;
      for (auto& sc : scores) {
        sc = std::exp(sc - max_score);
        denom += sc;
      }
      float* o = out + t * q_width + std::int64_t{h} * hd;
      std::fill(o, o + hd, 0.0f);
      const auto inv = static_cast<float>(1.0 / denom);
      for (std::int32_t j = 0; j < context; ++j) {
        const float* v = v_cache + slot(j) * kv_width + kv_offset;
        const float p = scores[static_cast<std::size_t>(j)] * inv;
#pragma omp simd
        for (std::int32_t d = 0; d < hd; ++d) o[d] += p * v[d];
      }
    }
  }
}

}  // namespace llmserve::backend
