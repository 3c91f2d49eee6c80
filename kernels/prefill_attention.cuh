#pragma once
// Varlen causal attention for prefill on tensor cores (WMMA, bf16/fp16 in, fp32 accumulate), in
// the FlashAttention-2 pattern over the paged cache. A block computes one query head for a tile of
// up to kPrefillQueryTile consecutive new tokens of one sequence (tile_seq / tile_first_query, a
// work list the host builds per step); its kPrefillWarps warps own 16 query rows each. Per key
// tile of kPrefillKeyTile positions, gathered from the cache through the block table (the new
// tokens' K/V were written there first, behind any cached prefix): S = Q K^T on tensor cores, an
// online softmax per row in fp32 (two lanes per row), then O = O * correction + P V with O kept in
// shared memory in fp32. Query row i attends to positions 0..positions[i]. Grid (tiles, nh);
// dynamic shared memory prefill_attention_smem_bytes<T, kHeadDim>(); kHeadDim % 16 == 0.
#include <mma.h>

#include <cstddef>
#include <cstdint>

#include "kernels/numeric.cuh"
#include "kernels/paged_attention.cuh"

namespace llmserve::kernels {

constexpr int kPrefillWarps = 4;
constexpr int kPrefillQueryTile = 16 * kPrefillWarps;
constexpr int kPrefillKeyTile = 64;

// q, k, v tiles (T), per warp: scores (fp32), probabilities (T), output accumulator (fp32).
template <typename T, int kHeadDim>
constexpr std::size_t prefill_attention_smem_bytes() {
  return (kPrefillQueryTile + 2 * kPrefillKeyTile) * kHeadDim * sizeof(T) +
         kPrefillQueryTile * kPrefillKeyTile * (sizeof(float) + sizeof(T)) +
         kPrefillQueryTile * kHeadDim * sizeof(float);
}

template <typename T, int kHeadDim>
__global__ void __launch_bounds__(kPrefillWarps * 32)
    prefill_attention_kernel(const T* qkv, const T* k_cache, const T* v_cache,
                             PagedAttentionParams p, const std::int32_t* tile_seq,
                             const std::int32_t* tile_first_query, T* out) {
  namespace wmma = nvcuda::wmma;
  static_assert(kHeadDim % 16 == 0, "WMMA tiles are 16 wide");
  constexpr int kVectors = kHeadDim * static_cast<int>(sizeof(T)) / 16;  // uint4 per row
  constexpr int kThreads = kPrefillWarps * 32;

  extern __shared__ __align__(128) unsigned char smem[];
  T* q_s = reinterpret_cast<T*>(smem);
  T* k_s = q_s + kPrefillQueryTile * kHeadDim;
  T* v_s = k_s + kPrefillKeyTile * kHeadDim;
  float* s_s = reinterpret_cast<float*>(v_s + kPrefillKeyTile * kHeadDim);
  T* p_s = reinterpret_cast<T*>(s_s + kPrefillQueryTile * kPrefillKeyTile);
  float* o_s = reinterpret_cast<float*>(p_s + kPrefillQueryTile * kPrefillKeyTile);

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int seq = tile_seq[blockIdx.x];
  const int first_query = tile_first_query[blockIdx.x];  // among the sequence's new tokens
  const int head = static_cast<int>(blockIdx.y);
  const int kv_head = head / (p.num_heads / p.num_kv_heads);
  const std::int32_t q_begin = p.query_start[seq];
  const std::int32_t q_len = p.query_start[seq + 1] - q_begin;
  const int rows = min(kPrefillQueryTile, q_len - first_query);
  const std::int32_t* table = p.block_tables + std::int64_t{seq} * *p.table_stride;
  const std::int64_t row_width = p.row_width();
  const std::int64_t kv_width = p.kv_width();

  for (int idx = tid; idx < kPrefillQueryTile * kVectors; idx += kThreads) {
    const int r = idx / kVectors;
    const int c = idx % kVectors;
    uint4 value = make_uint4(0, 0, 0, 0);
    if (r < rows) {
      const T* src = qkv + std::int64_t{q_begin + first_query + r} * row_width +
                     std::int64_t{head} * kHeadDim;
      value = reinterpret_cast<const uint4*>(src)[c];
    }
    reinterpret_cast<uint4*>(q_s + r * kHeadDim)[c] = value;
  }
  float* o_w = o_s + warp * 16 * kHeadDim;
  for (int i = lane; i < 16 * kHeadDim; i += 32) o_w[i] = 0.0f;
  float* s_w = s_s + warp * 16 * kPrefillKeyTile;
  T* p_w = p_s + warp * 16 * kPrefillKeyTile;

  // Lanes 2r and 2r + 1 run the softmax of the warp's row r, 32 columns each. A row past the
  // sequence's new tokens has position -1: every key is masked and nothing is written for it.
  const int my_row = lane / 2;
  const int my_half = lane % 2;
  const int my_query = first_query + warp * 16 + my_row;
  const std::int32_t my_position = my_query < q_len ? p.positions[q_begin + my_query] : -1;
  float m = -INFINITY;  // running max of the row's scores
  float l = 0.0f;       // running sum of exp(score - m)

  // Keys up to the tile's largest position (positions ascend in a sequence as the engine builds
  // batches, but the kernel does not rely on it: an unmasked zero-filled key would be wrong).
  __shared__ std::int32_t kv_end_s;
  if (tid == 0) kv_end_s = 0;
  __syncthreads();
  if (tid < rows) atomicMax(&kv_end_s, p.positions[q_begin + first_query + tid] + 1);
  __syncthreads();
  const std::int32_t kv_end = kv_end_s;
  for (std::int32_t kv_start = 0; kv_start < kv_end; kv_start += kPrefillKeyTile) {
    __syncthreads();  // every warp is done with the previous K/V tile
    // Positions past kv_end are zero-filled: their scores are masked, but a NaN left in a V row
    // would survive a zero probability in the P V product.
    for (int idx = tid; idx < kPrefillKeyTile * kVectors; idx += kThreads) {
      const int r = idx / kVectors;
      const int c = idx % kVectors;
      const std::int32_t position = kv_start + r;
      uint4 k = make_uint4(0, 0, 0, 0);
      uint4 v = k;
      if (position < kv_end) {
        const std::int64_t offset =
            p.slot(table, position) * kv_width + std::int64_t{kv_head} * kHeadDim;
        k = reinterpret_cast<const uint4*>(k_cache + offset)[c];
        v = reinterpret_cast<const uint4*>(v_cache + offset)[c];
      }
      reinterpret_cast<uint4*>(k_s + r * kHeadDim)[c] = k;
      reinterpret_cast<uint4*>(v_s + r * kHeadDim)[c] = v;
    }
    __syncthreads();

    for (int n = 0; n < kPrefillKeyTile / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> scores;
      wmma::fill_fragment(scores, 0.0f);
      for (int k = 0; k < kHeadDim / 16; ++k) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> q;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kt;
        wmma::load_matrix_sync(q, q_s + warp * 16 * kHeadDim + k * 16, kHeadDim);
        wmma::load_matrix_sync(kt, k_s + n * 16 * kHeadDim + k * 16, kHeadDim);
        wmma::mma_sync(scores, q, kt, scores);
      }
      wmma::store_matrix_sync(s_w + n * 16, scores, kPrefillKeyTile, wmma::mem_row_major);
    }
    __syncwarp();

    float* s_row = s_w + my_row * kPrefillKeyTile + my_half * 32;
    float tile_max = -INFINITY;
    for (int c = 0; c < 32; ++c) {
      const std::int32_t position = kv_start + my_half * 32 + c;
      const float score = position <= my_position ? s_row[c] * p.scale : -INFINITY;
      s_row[c] = score;
      tile_max = fmaxf(tile_max, score);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float m_new = fmaxf(m, tile_max);
    const float correction = m_new == -INFINITY ? 1.0f : expf(m - m_new);
    T* p_row = p_w + my_row * kPrefillKeyTile + my_half * 32;
    float sum = 0.0f;
    for (int c = 0; c < 32; ++c) {
      const T weight = from_float<T>(s_row[c] == -INFINITY ? 0.0f : expf(s_row[c] - m_new));
      p_row[c] = weight;
      sum += to_float(weight);  // the rounded weights are what P V sums
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * correction + sum;
    m = m_new;
    float* o_row = o_w + my_row * kHeadDim;
    for (int d = my_half; d < kHeadDim; d += 2) o_row[d] *= correction;
    __syncwarp();

    for (int n = 0; n < kHeadDim / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
      wmma::load_matrix_sync(o, o_w + n * 16, kHeadDim, wmma::mem_row_major);
      for (int k = 0; k < kPrefillKeyTile / 16; ++k) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> probs;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> v;
        wmma::load_matrix_sync(probs, p_w + k * 16, kPrefillKeyTile);
        wmma::load_matrix_sync(v, v_s + k * 16 * kHeadDim + n * 16, kHeadDim);
        wmma::mma_sync(o, probs, v, o);
      }
      wmma::store_matrix_sync(o_w + n * 16, o, kHeadDim, wmma::mem_row_major);
    }
    __syncwarp();
  }

  if (my_query < q_len) {
    const float* o_row = o_w + my_row * kHeadDim;
    T* dst = out + std::int64_t{q_begin + my_query} * p.num_heads * kHeadDim +
             std::int64_t{head} * kHeadDim;
    for (int d = my_half; d < kHeadDim; d += 2) dst[d] = from_float<T>(o_row[d] / l);
  }
}

}  // namespace llmserve::kernels
