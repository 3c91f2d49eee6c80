#pragma once
// Stores the k and v parts of each qkv row at its slot of the paged cache. qkv row t is
// [q (q_width) | k (kv_width) | v (kv_width)]; the caches are [slots, kv_width]. A negative slot
// (a padded row) writes nothing.
#include <cstdint>

namespace llmserve::kernels {

template <typename T>
__global__ void write_kv_kernel(const T* qkv, const std::int64_t* slot_mapping,
                                std::int64_t row_width, std::int64_t q_width,
                                std::int64_t kv_width, T* k_cache, T* v_cache) {
  const std::int64_t t = blockIdx.x;
  const std::int64_t slot = slot_mapping[t];
  if (slot < 0) return;
  const T* row = qkv + t * row_width + q_width;
  for (std::int64_t i = threadIdx.x; i < kv_width; i += blockDim.x) {
    k_cache[slot * kv_width + i] = row[i];
    v_cache[slot * kv_width + i] = row[kv_width + i];
  }
}

}  // namespace llmserve::kernels
