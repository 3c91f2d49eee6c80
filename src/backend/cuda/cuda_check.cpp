#include "cuda_check.h"

#include "llmserve/common/error.h"

namespace llmserve::backend::cuda {

void check(cudaError_t status, std::string_view call) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call does not report it again
  throw Error("cuda: {} failed: {} ({})", call, cudaGetErrorString(status),
              cudaGetErrorName(status));
}

void check(cublasStatus_t status, std::string_view call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error("cublas: {} failed: {} ({})", call, cublasGetStatusString(status),
              cublasGetStatusName(status));
}

}  // namespace llmserve::backend::cuda
