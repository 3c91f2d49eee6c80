#pragma once
// Row-wise copies and sums over [rows, cols] activations.
//   add_kernel:          x += y (n elements)
//   broadcast_rows:      out[r, :] = bias[:] for every row (a GEMM with beta = 1 adds onto it)
//   gather_rows_kernel:  out[r, :] = x[rows[r], :] (the rows whose logits are wanted)
#include <cstdint>

#include "kernels/numeric.cuh"

namespace llmserve::kernels {

template <typename T>
__global__ void add_kernel(T* x, const T* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    x[i] = from_float<T>(to_float(x[i]) + to_float(y[i]));
  }
}

template <typename T, typename Out>
__global__ void broadcast_rows_kernel(const T* bias, std::int64_t cols, Out* out) {
  Out* row = out + blockIdx.x * cols;
  for (std::int64_t i = threadIdx.x; i < cols; i += blockDim.x) row[i] = from_float<Out>(to_float(bias[i]));
}

template <typename T>
__global__ void gather_rows_kernel(const T* x, const std::int32_t* rows, std::int64_t cols, T* out) {
  const T* src = x + rows[blockIdx.x] * cols;
  T* dst = out + blockIdx.x * cols;
  for (std::int64_t i = threadIdx.x; i < cols; i += blockDim.x) dst[i] = src[i];
}

}  // namespace llmserve::kernels
