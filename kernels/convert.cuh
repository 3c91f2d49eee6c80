#pragma once
// dst[i] = src[i] converted between storage types (upload of fp32 host data, download of bf16/fp16
// tensors). Grid-stride over n elements.
#include <cstdint>

#include "kernels/numeric.cuh"

namespace llmserve::kernels {

template <typename From, typename To>
__global__ void convert_kernel(const From* src, std::int64_t n, To* dst) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    dst[i] = from_float<To>(to_float(src[i]));
  }
}

}  // namespace llmserve::kernels
