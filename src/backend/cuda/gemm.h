#pragma once
// GEMMs of the CUDA backend through cuBLAS: one handle bound to the engine's stream, with a fixed
// workspace (no allocation inside a step, as CUDA graph capture will need). Inputs bf16/fp16,
// fp32 accumulation, output in the compute dtype or fp32.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

#include "llmserve/common/dtype.h"

namespace llmserve::backend::cuda {

class Gemm {
 public:
  explicit Gemm(cudaStream_t stream);
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;
  ~Gemm();

  // out[m, n] = x[m, k] . weight[n, k]^T (+ out when accumulate: the caller pre-filled the bias).
  // Row-major throughout; x and weight in `dtype`, out in out_dtype.
  void linear(DType dtype, const void* x, const void* weight, std::int64_t m, std::int64_t n,
              std::int64_t k, DType out_dtype, void* out, bool accumulate);

 private:
  cublasHandle_t handle_ = nullptr;
  std::shared_ptr<void> workspace_;
};

}  // namespace llmserve::backend::cuda
