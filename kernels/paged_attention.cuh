#pragma once
// Shapes and the paged addressing both attention kernels share. qkv [T, (nh + 2 nkv) hd] holds each
// token's q heads, then k heads, then v heads; the caches are [slots, nkv hd]; sequence b's token
// at position j is in slot block_tables[b][j / block_size] * block_size + j % block_size. Query
// head h reads kv head h / (nh / nkv) (GQA). out [T, nh hd].
#include <cstdint>

namespace llmserve::kernels {

struct PagedAttentionParams {
  const std::int32_t* positions;     // [T] position of each new token in its sequence
  const std::int32_t* seq_of_token;  // [T]
  const std::int32_t* query_start;   // [B+1]
  const std::int32_t* block_tables;  // [B][*table_stride]
  // Read from device memory, so that a replayed CUDA graph follows each step's table width.
  const std::int32_t* table_stride;
  std::int32_t block_size = 0;
  std::int32_t num_heads = 0;
  std::int32_t num_kv_heads = 0;
  std::int32_t head_dim = 0;
  float scale = 0.0f;  // applied to q . k

  __device__ std::int64_t row_width() const {
    return std::int64_t{num_heads + 2 * num_kv_heads} * head_dim;
  }
  __device__ std::int64_t kv_width() const { return std::int64_t{num_kv_heads} * head_dim; }
  __device__ std::int64_t slot(const std::int32_t* table, std::int32_t position) const {
    return std::int64_t{table[position / block_size]} * block_size + position % block_size;
  }
};

}  // namespace llmserve::kernels
