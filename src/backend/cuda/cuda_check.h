#pragma once
// CUDA runtime and cuBLAS status -> llmserve::Error naming the call that failed.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string_view>

namespace llmserve::backend::cuda {

void check(cudaError_t status, std::string_view call);
void check(cublasStatus_t status, std::string_view call);

}  // namespace llmserve::backend::cuda
