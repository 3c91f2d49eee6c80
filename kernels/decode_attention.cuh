#pragma once
// Paged attention for single query tokens: token t attends to positions 0..positions[t] of its
// sequence, K/V read through the block table. GQA-aware: a block serves up to
// kDecodeHeadsPerBlock query heads of one kv head (grid z covers larger groups), so each K/V row
// is read once for all of them. Each warp takes every kDecodeWarps-th key and keeps an online
// softmax per head (running max, sum and weighted V) in registers; the warps' partial results are
// merged through shared memory at the end. Lane l holds dimensions l, l + 32, ... (kDimsPerLane of
// them), so any head_dim up to 32 * kDimsPerLane is served.
// It is correct for any token, so it is also the fallback for prefill tokens whose head_dim the
// tensor-core prefill kernel does not take. Grid (T, nkv, ceil(group / kDecodeHeadsPerBlock)).
#include <cstdint>

#include "kernels/numeric.cuh"
#include "kernels/paged_attention.cuh"

namespace llmserve::kernels {

constexpr int kDecodeWarps = 4;
constexpr int kDecodeHeadsPerBlock = 8;

template <typename T, int kDimsPerLane>
__global__ void __launch_bounds__(kDecodeWarps * 32)
    decode_attention_kernel(const T* qkv, const T* k_cache, const T* v_cache,
                            PagedAttentionParams p, T* out) {
  constexpr int kHeads = kDecodeHeadsPerBlock;
  constexpr int kMaxDim = 32 * kDimsPerLane;
  __shared__ float q_s[kHeads][kMaxDim];
  __shared__ float m_s[kDecodeWarps][kHeads];
  __shared__ float l_s[kDecodeWarps][kHeads];
  __shared__ float acc_s[kDecodeWarps][kHeads][kMaxDim];

  const std::int64_t t = blockIdx.x;
  const int kv_head = static_cast<int>(blockIdx.y);
  const int group = p.num_heads / p.num_kv_heads;
  const int first_head = kv_head * group + static_cast<int>(blockIdx.z) * kHeads;
  const int heads = min(kHeads, group - static_cast<int>(blockIdx.z) * kHeads);
  const int hd = p.head_dim;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;

  // q, pre-scaled, zero beyond head_dim so the padded lanes add nothing to the dot products.
  for (int idx = static_cast<int>(threadIdx.x); idx < kHeads * kMaxDim;
       idx += static_cast<int>(blockDim.x)) {
    const int h = idx / kMaxDim;
    const int d = idx % kMaxDim;
    q_s[h][d] = h < heads && d < hd
                    ? to_float(qkv[t * p.row_width() + std::int64_t{first_head + h} * hd + d]) *
                          p.scale
                    : 0.0f;
  }
  __syncthreads();

  float m[kHeads], l[kHeads], acc[kHeads][kDimsPerLane];
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
    m[h] = -INFINITY;
    l[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) acc[h][e] = 0.0f;
  }

  const std::int32_t context = p.positions[t] + 1;
  const std::int32_t* table =
      p.block_tables + std::int64_t{p.seq_of_token[t]} * p.max_blocks_per_seq;
  const std::int64_t head_offset = std::int64_t{kv_head} * hd;
  for (std::int32_t j = warp; j < context; j += kDecodeWarps) {
    const std::int64_t row = p.slot(table, j) * p.kv_width() + head_offset;
    float k[kDimsPerLane], v[kDimsPerLane];
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) {
      const int d = lane + 32 * e;
      k[e] = d < hd ? to_float(k_cache[row + d]) : 0.0f;
      v[e] = d < hd ? to_float(v_cache[row + d]) : 0.0f;
    }
#pragma unroll
    for (int h = 0; h < kHeads; ++h) {
      if (h >= heads) break;  // uniform across the block
      float dot = 0.0f;
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) dot += q_s[h][lane + 32 * e] * k[e];
      const float score = warp_sum(dot);
      const float m_new = fmaxf(m[h], score);
      const float correction = expf(m[h] - m_new);  // 0 for the first key (m = -inf)
      const float weight = expf(score - m_new);
      l[h] = l[h] * correction + weight;
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) acc[h][e] = acc[h][e] * correction + weight * v[e];
      m[h] = m_new;
    }
  }

#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
    if (lane == 0) {
      m_s[warp][h] = m[h];
      l_s[warp][h] = l[h];
    }
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) acc_s[warp][h][lane + 32 * e] = acc[h][e];
  }
  __syncthreads();

  // Warp 0 always saw key 0, so the overall max is finite; a warp that saw no key has m = -inf
  // and weighs nothing.
  const std::int64_t q_width = std::int64_t{p.num_heads} * hd;
  for (int idx = static_cast<int>(threadIdx.x); idx < heads * hd;
       idx += static_cast<int>(blockDim.x)) {
    const int h = idx / hd;
    const int d = idx % hd;
    float m_max = -INFINITY;
#pragma unroll
    for (int w = 0; w < kDecodeWarps; ++w) m_max = fmaxf(m_max, m_s[w][h]);
    float denominator = 0.0f;
    float value = 0.0f;
#pragma unroll
    for (int w = 0; w < kDecodeWarps; ++w) {
      const float f = m_s[w][h] == -INFINITY ? 0.0f : expf(m_s[w][h] - m_max);
      denominator += l_s[w][h] * f;
      value += acc_s[w][h][d] * f;
    }
    out[t * q_width + std::int64_t{first_head + h} * hd + d] = from_float<T>(value / denominator);
  }
}

}  // namespace llmserve::kernels
