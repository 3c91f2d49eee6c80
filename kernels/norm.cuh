#pragma once
// Fused residual add + LayerNorm / RMSNorm, one block per row of `cols` values.
//   with `add`:  residual = round(x + add) (stored), then out = norm(residual)
//   without:     out = norm(x)
// LayerNorm: (v - mean) * rsqrt(var + eps) * weight + bias; RMSNorm: v * rsqrt(mean(v^2) + eps) *
// weight. Statistics in fp32 over the stored (rounded) residual, in two passes (mean, then the
// centred sum of squares) as the CPU reference does, so a large mean costs no precision.
#include <cstdint>

#include "kernels/numeric.cuh"

namespace llmserve::kernels {

// `x` and `residual_out` may alias (add_norm updates the residual in place): each thread reads
// back only the elements it wrote.
template <typename T, bool kLayerNorm>
__global__ void add_norm_kernel(const T* x, const T* add, T* residual_out, const T* weight,
                                const T* bias, float eps, std::int64_t cols, T* out) {
  __shared__ float scratch[32];
  const std::int64_t offset = blockIdx.x * cols;
  float sum = 0.0f;
  for (std::int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    float v = to_float(x[offset + i]);
    if (add != nullptr) {
      const T stored = from_float<T>(v + to_float(add[offset + i]));
      residual_out[offset + i] = stored;
      v = to_float(stored);
    }
    sum += v;
  }
  const T* source = add != nullptr ? residual_out : x;
  const float n = static_cast<float>(cols);
  float mean = 0.0f;
  if constexpr (kLayerNorm) mean = block_sum(sum, scratch) / n;
  float sum_sq = 0.0f;
  for (std::int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float d = to_float(source[offset + i]) - mean;
    sum_sq += d * d;
  }
  const float inv = rsqrtf(block_sum(sum_sq, scratch) / n + eps);
  for (std::int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    float v = (to_float(source[offset + i]) - mean) * inv * to_float(weight[i]);
    if (bias != nullptr) v += to_float(bias[i]);
    out[offset + i] = from_float<T>(v);
  }
}

}  // namespace llmserve::kernels
