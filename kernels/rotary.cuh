#pragma once
// Rotary position embedding, rotate-half form (Hugging Face's apply_rotary_pos_emb): in each of
// the first `rotated_heads` heads of row t (the q heads, then the k heads of a fused qkv row),
// x[i] and x[i + half] rotate by positions[t] * theta^(-2i / head_dim). cos/sin are computed in
// fp32 per element (no table), which also keeps the op free of per-step state.
#include <cstdint>

#include "kernels/numeric.cuh"

namespace llmserve::kernels {

template <typename T>
__global__ void rotary_kernel(T* qkv, const std::int32_t* positions, std::int64_t row_width,
                              int rotated_heads, int head_dim, float theta) {
  const std::int64_t t = blockIdx.x;
  const int half = head_dim / 2;
  const float position = static_cast<float>(positions[t]);
  T* row = qkv + t * row_width;
  for (int idx = threadIdx.x; idx < rotated_heads * half; idx += blockDim.x) {
    const int head = idx / half;
    const int i = idx % half;
    const float inv_freq = powf(theta, -2.0f * static_cast<float>(i) / static_cast<float>(head_dim));
    float sin_a, cos_a;
    sincosf(position * inv_freq, &sin_a, &cos_a);
    T* x = row + head * head_dim;
    const float x1 = to_float(x[i]);
    const float x2 = to_float(x[i + half]);
    x[i] = from_float<T>(x1 * cos_a - x2 * sin_a);
    x[i + half] = from_float<T>(x2 * cos_a + x1 * sin_a);
  }
}

}  // namespace llmserve::kernels
