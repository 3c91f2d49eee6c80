#pragma once
// Paged attention for single query tokens (decode, and any one-token chunk): token t attends to
// positions 0..positions[t] of its sequence, K/V read through the block table.
//
// Bandwidth first. A block serves kHeads query heads of one kv head, so each K/V row is read once
// per GQA group, and lanes load kVec elements at a time (16 bytes on the fast path). The context
// is split over gridDim.z (split-K): split z takes keys [z * keys_per_split, ...) so that small
// batches with long contexts still fill the GPU; with one split the kernel writes the output,
// otherwise each split leaves its unnormalised result, max and sum for decode_attention_reduce.
// Inside a split, chunks of kDecodeChunk keys go through shared memory in three phases:
//   1. scores: a group of `lanes` lanes owns a key, each lane a slice of head_dim, the dot
//      products reduced by shuffles within the group;
//   2. softmax: per head, the chunk's max rescales the running (max, sum, accumulator);
//   3. values: the groups accumulate p * V into per-lane registers, merged across the block at
//      the end in a fixed order (no atomics: the result does not depend on scheduling).
// Grid (tokens, kv_heads * head_groups, splits); kDecodeWarps * 32 threads.
#include <cstdint>

#include "kernels/numeric.cuh"
#include "kernels/paged_attention.cuh"

namespace llmserve::kernels {

constexpr int kDecodeWarps = 4;
constexpr int kDecodeChunk = 256;  // keys per pass through shared memory

// Where a decode launch reads its tokens and leaves split results.
struct DecodeWork {
  const std::int32_t* tokens = nullptr;  // [gridDim.x] rows of qkv/out; null: row = blockIdx.x
  std::int32_t keys_per_split = 0;       // a multiple of kDecodeChunk
  std::int32_t lanes = 0;                // lanes per key: a power of two, lanes * kVec * vecs >= hd
  float* split_acc = nullptr;            // [tokens][num_heads][splits][head_dim]
  float* split_max = nullptr;            // [tokens][num_heads][splits]
  float* split_sum = nullptr;            // [tokens][num_heads][splits]
};

template <typename T, int kVec>
__device__ inline void load_vector(const T* src, float (&dst)[kVec]) {
  if constexpr (kVec * sizeof(T) == 16) {
    const uint4 raw = *reinterpret_cast<const uint4*>(src);
    const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < kVec; ++i) dst[i] = to_float(v[i]);
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i) dst[i] = to_float(src[i]);
  }
}

template <typename T, int kVec, int kVecsPerLane, int kHeads>
__global__ void __launch_bounds__(kDecodeWarps * 32)
    decode_attention_kernel(const T* qkv, const T* k_cache, const T* v_cache,
                            PagedAttentionParams p, DecodeWork w, T* out) {
  constexpr int kDims = kVec * kVecsPerLane;  // per lane
  constexpr int kMaxDim = 32 * kDims;
  __shared__ float score_s[kHeads][kDecodeChunk];
  __shared__ float merge_s[kDecodeWarps][kHeads][kMaxDim];
  __shared__ float stat_s[2][kHeads];  // the chunk's max and sum per head

  const int row = w.tokens != nullptr ? w.tokens[blockIdx.x] : static_cast<int>(blockIdx.x);
  const int group = p.num_heads / p.num_kv_heads;
  const int head_groups = (group + kHeads - 1) / kHeads;
  const int kv_head = static_cast<int>(blockIdx.y) / head_groups;
  const int first_head = kv_head * group + static_cast<int>(blockIdx.y) % head_groups * kHeads;
  const int heads = min(kHeads, group - static_cast<int>(blockIdx.y) % head_groups * kHeads);
  const int hd = p.head_dim;
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int lanes = w.lanes;
  const int slice = lane % lanes;                  // this lane's slice of head_dim
  const int key_group = tid / lanes;               // which key of an iteration it serves
  const int key_groups = kDecodeWarps * 32 / lanes;
  const std::int32_t context = p.positions[row] + 1;
  const std::int32_t begin = static_cast<std::int32_t>(blockIdx.z) * w.keys_per_split;
  const std::int32_t end = min(context, begin + w.keys_per_split);
  if (begin >= end) return;  // a split past this token's context (the grid fits the longest)

  // q, pre-scaled; dims beyond head_dim are 0 and add nothing.
  float q[kHeads][kDims];
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
#pragma unroll
    for (int v = 0; v < kVecsPerLane; ++v) {
      const int d = (v * lanes + slice) * kVec;
      float x[kVec];
      if (h < heads && d < hd) {
        load_vector<T, kVec>(qkv + row * p.row_width() + std::int64_t{first_head + h} * hd + d, x);
      } else {
#pragma unroll
        for (int i = 0; i < kVec; ++i) x[i] = 0.0f;
      }
#pragma unroll
      for (int i = 0; i < kVec; ++i) q[h][v * kVec + i] = x[i] * p.scale;
    }
  }

  float m[kHeads], l[kHeads], acc[kHeads][kDims];
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
    m[h] = -INFINITY;
    l[h] = 0.0f;
#pragma unroll
    for (int i = 0; i < kDims; ++i) acc[h][i] = 0.0f;
  }

  const std::int32_t* table = p.block_tables + std::int64_t{p.seq_of_token[row]} * *p.table_stride;
  const std::int64_t head_offset = std::int64_t{kv_head} * hd;
  for (std::int32_t chunk = begin; chunk < end; chunk += kDecodeChunk) {
    const int n = min(kDecodeChunk, end - chunk);
    // 1. scores. The loop bound is the block's, not the key's: every lane of a warp must reach
    // the shuffles, whether or not its group has a key this round.
    for (int first = 0; first < n; first += key_groups) {
      const int j = first + key_group;
      const bool has_key = j < n;
      const std::int64_t base =
          has_key ? p.slot(table, chunk + j) * p.kv_width() + head_offset : 0;
      float dot[kHeads];
#pragma unroll
      for (int h = 0; h < kHeads; ++h) dot[h] = 0.0f;
#pragma unroll
      for (int v = 0; v < kVecsPerLane; ++v) {
        const int d = (v * lanes + slice) * kVec;
        if (!has_key || d >= hd) break;
        float k[kVec];
        load_vector<T, kVec>(k_cache + base + d, k);
#pragma unroll
        for (int h = 0; h < kHeads; ++h) {
#pragma unroll
          for (int i = 0; i < kVec; ++i) dot[h] += q[h][v * kVec + i] * k[i];
        }
      }
#pragma unroll
      for (int h = 0; h < kHeads; ++h) {
        for (int offset = lanes / 2; offset > 0; offset /= 2) {
          dot[h] += __shfl_xor_sync(0xffffffffu, dot[h], offset);
        }
      }
      if (has_key && slice == 0) {
#pragma unroll
        for (int h = 0; h < kHeads; ++h) score_s[h][j] = dot[h];
      }
    }
    __syncthreads();
    // 2. softmax statistics of the chunk: warp w takes heads w, w + kDecodeWarps, ...
    for (int h = warp; h < heads; h += kDecodeWarps) {
      float chunk_max = -INFINITY;
      for (int j = lane; j < n; j += 32) chunk_max = fmaxf(chunk_max, score_s[h][j]);
      chunk_max = warp_max(chunk_max);
      float sum = 0.0f;
      for (int j = lane; j < n; j += 32) {
        const float e = expf(score_s[h][j] - chunk_max);
        score_s[h][j] = e;
        sum += e;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        stat_s[0][h] = chunk_max;
        stat_s[1][h] = sum;
      }
    }
    __syncthreads();
    // Every thread keeps the running statistics; the chunk's weights are relative to its max.
    float chunk_scale[kHeads];
#pragma unroll
    for (int h = 0; h < kHeads; ++h) {
      if (h >= heads) {
        chunk_scale[h] = 0.0f;
        continue;
      }
      const float m_new = fmaxf(m[h], stat_s[0][h]);
      const float correction = expf(m[h] - m_new);  // 0 for the first chunk (m = -inf)
      chunk_scale[h] = expf(stat_s[0][h] - m_new);
      l[h] = l[h] * correction + stat_s[1][h] * chunk_scale[h];
#pragma unroll
      for (int i = 0; i < kDims; ++i) acc[h][i] *= correction;
      m[h] = m_new;
    }
    // 3. values
    for (int j = key_group; j < n; j += key_groups) {
      const std::int64_t base = p.slot(table, chunk + j) * p.kv_width() + head_offset;
#pragma unroll
      for (int v = 0; v < kVecsPerLane; ++v) {
        const int d = (v * lanes + slice) * kVec;
        if (d >= hd) break;
        float x[kVec];
        load_vector<T, kVec>(v_cache + base + d, x);
#pragma unroll
        for (int h = 0; h < kHeads; ++h) {
          if (h >= heads) break;  // uniform across the block
          const float weight = score_s[h][j] * chunk_scale[h];
#pragma unroll
          for (int i = 0; i < kVec; ++i) acc[h][v * kVec + i] += weight * x[i];
        }
      }
    }
    __syncthreads();  // score_s and stat_s are rewritten by the next chunk
  }

  // Merge the key groups: within a warp by shuffles, then the warps through shared memory.
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
#pragma unroll
    for (int i = 0; i < kDims; ++i) {
      for (int offset = lanes; offset < 32; offset *= 2) {
        acc[h][i] += __shfl_xor_sync(0xffffffffu, acc[h][i], offset);
      }
    }
  }
  if (lane < lanes) {
#pragma unroll
    for (int h = 0; h < kHeads; ++h) {
#pragma unroll
      for (int v = 0; v < kVecsPerLane; ++v) {
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          merge_s[warp][h][(v * lanes + slice) * kVec + i] = acc[h][v * kVec + i];
        }
      }
    }
  }
  __syncthreads();

  const bool split = gridDim.z > 1;
  const std::int64_t q_width = std::int64_t{p.num_heads} * hd;
  for (int idx = tid; idx < heads * hd; idx += kDecodeWarps * 32) {
    const int h = idx / hd;
    const int d = idx % hd;
    float value = 0.0f;
#pragma unroll
    for (int wi = 0; wi < kDecodeWarps; ++wi) value += merge_s[wi][h][d];
    // Every thread holds the same running statistics; pick head h's without dynamic indexing.
    float mh = 0.0f, lh = 0.0f;
#pragma unroll
    for (int hh = 0; hh < kHeads; ++hh) {
      if (hh == h) {
        mh = m[hh];
        lh = l[hh];
      }
    }
    const int head = first_head + h;
    if (!split) {
      out[row * q_width + std::int64_t{head} * hd + d] = from_float<T>(value / lh);
    } else {
      const std::int64_t at =
          (std::int64_t{blockIdx.x} * p.num_heads + head) * gridDim.z + blockIdx.z;
      w.split_acc[at * hd + d] = value;
      if (d == 0) {
        w.split_max[at] = mh;
        w.split_sum[at] = lh;
      }
    }
  }
}

// Merges the splits of a split decode launch: out = sum_z e^(m_z - M) acc_z / sum_z e^(m_z - M)
// l_z over the splits that saw keys. Grid (tokens, num_heads); any block size.
template <typename T>
__global__ void decode_attention_reduce(PagedAttentionParams p, DecodeWork w, std::int32_t splits,
                                        T* out) {
  const int row = w.tokens != nullptr ? w.tokens[blockIdx.x] : static_cast<int>(blockIdx.x);
  const int head = static_cast<int>(blockIdx.y);
  const int hd = p.head_dim;
  const std::int32_t context = p.positions[row] + 1;
  const int used = min(splits, (context + w.keys_per_split - 1) / w.keys_per_split);
  const std::int64_t first = (std::int64_t{blockIdx.x} * p.num_heads + head) * splits;
  float global_max = -INFINITY;
  for (int z = 0; z < used; ++z) global_max = fmaxf(global_max, w.split_max[first + z]);
  float denominator = 0.0f;
  for (int z = 0; z < used; ++z) {
    denominator += w.split_sum[first + z] * expf(w.split_max[first + z] - global_max);
  }
  const std::int64_t q_width = std::int64_t{p.num_heads} * hd;
  for (int d = static_cast<int>(threadIdx.x); d < hd; d += static_cast<int>(blockDim.x)) {
    float value = 0.0f;
    for (int z = 0; z < used; ++z) {
      value += w.split_acc[(first + z) * hd + d] * expf(w.split_max[first + z] - global_max);
    }
    out[row * q_width + std::int64_t{head} * hd + d] = from_float<T>(value / denominator);
  }
}

}  // namespace llmserve::kernels
