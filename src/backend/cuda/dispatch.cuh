#pragma once
// Runtime DType -> kernel template argument, for the launchers.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <stdexcept>
#include <type_traits>
#include <utility>

#include "llmserve/common/dtype.h"

namespace llmserve::backend::cuda {

// Calls f(std::type_identity<T>{}) with T the storage type of `dtype`, a compute dtype (model
// kernels are not instantiated for fp32: WMMA has no fp32 inputs).
template <typename F>
void dispatch_compute_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kBF16:
      f(std::type_identity<__nv_bfloat16>{});
      return;
    case DType::kF16:
      f(std::type_identity<__half>{});
      return;
    case DType::kF32:
      break;
  }
  throw std::invalid_argument("cuda launcher: the compute dtype is bfloat16 or float16");
}

// As dispatch_compute_dtype, fp32 included (conversions, fp32 outputs).
template <typename F>
void dispatch_dtype(DType dtype, F&& f) {
  if (dtype == DType::kF32) {
    f(std::type_identity<float>{});
    return;
  }
  dispatch_compute_dtype(dtype, std::forward<F>(f));
}

// Threads per block for a row of `cols` elements: enough to cover it once, at most 1024, a
// multiple of 32 (block_sum needs whole warps).
inline unsigned threads_for_row(long long cols) {
  const long long warps = (cols + 31) / 32;
  return static_cast<unsigned>(32 * (warps < 1 ? 1 : (warps > 32 ? 32 : warps)));
}

// Blocks for a grid-stride loop over n elements with 256 threads.
inline unsigned blocks_for(long long n) {
  const long long blocks = (n + 255) / 256;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 ? 65535 : blocks));
}

}  // namespace llmserve::backend::cuda
