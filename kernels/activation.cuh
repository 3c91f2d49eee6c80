#pragma once
// MLP activations, computed in fp32.
//   gelu_new:  x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (GPT-2), in place over n
//   silu_mul:  out[r, i] = silu(gate_up[r, i]) * gate_up[r, inner + i]  (Qwen2 / Llama)
#include <cstdint>

#include "kernels/numeric.cuh"

namespace llmserve::kernels {

template <typename T>
__global__ void gelu_new_kernel(T* x, std::int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const float v = to_float(x[i]);
    x[i] = from_float<T>(0.5f * v * (1.0f + tanhf(kSqrt2OverPi * (v + 0.044715f * v * v * v))));
  }
}

template <typename T>
__global__ void silu_mul_kernel(const T* gate_up, std::int64_t rows, std::int64_t inner, T* out) {
  const std::int64_t n = rows * inner;
  for (std::int64_t idx = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; idx < n;
       idx += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t r = idx / inner;
    const std::int64_t i = idx % inner;
    const float gate = to_float(gate_up[r * 2 * inner + i]);
    const float up = to_float(gate_up[r * 2 * inner + inner + i]);
    out[idx] = from_float<T>(gate / (1.0f + expf(-gate)) * up);
  }
}

}  // namespace llmserve::kernels
