#pragma once
// out[t, :] = table[ids[t], :] (+ positions_table[positions[t], :], GPT-2's learned positions).
// One block per token; ids and positions were range-checked on the host.
#include <cstdint>

#include "kernels/numeric.cuh"

namespace llmserve::kernels {

template <typename T>
__global__ void embedding_kernel(const T* table, const T* positions_table,
                                 const std::int32_t* ids, const std::int32_t* positions,
                                 std::int64_t hidden, T* out) {
  const std::int64_t t = blockIdx.x;
  const T* row = table + ids[t] * hidden;
  const T* pos = positions_table != nullptr ? positions_table + positions[t] * hidden : nullptr;
  T* o = out + t * hidden;
  for (std::int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    float v = to_float(row[i]);
    if (pos != nullptr) v += to_float(pos[i]);
    o[i] = from_float<T>(v);
  }
}

}  // namespace llmserve::kernels
