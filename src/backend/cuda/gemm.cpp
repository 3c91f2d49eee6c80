#include "gemm.h"

#include <limits>

#include "cuda_check.h"
#include "device_memory.h"
#include "llmserve/common/error.h"

namespace llmserve::backend::cuda {
namespace {

// What NVIDIA recommends for Hopper (cuBLAS docs, cublasSetWorkspace).
constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kF32:
      return CUDA_R_32F;
  }
  throw Error("cuda gemm: unknown dtype");
}

int as_int(std::int64_t v, const char* what) {
  if (v > std::numeric_limits<int>::max()) throw Error("cuda gemm: {} = {} exceeds int", what, v);
  return static_cast<int>(v);
}

}  // namespace

Gemm::Gemm(cudaStream_t stream) {
  check(cublasCreate(&handle_), "cublasCreate");
  try {
    workspace_ = allocate_device(kWorkspaceBytes, "the cuBLAS workspace");
    check(cublasSetStream(handle_, stream), "cublasSetStream");
    check(cublasSetWorkspace(handle_, workspace_.get(), kWorkspaceBytes), "cublasSetWorkspace");
  } catch (...) {
    cublasDestroy(handle_);
    throw;
  }
}

Gemm::~Gemm() { cublasDestroy(handle_); }

void Gemm::linear(DType dtype, const void* x, const void* weight, std::int64_t m, std::int64_t n,
                  std::int64_t k, DType out_dtype, void* out, bool accumulate) {
  const float alpha = 1.0f;
  const float beta = accumulate ? 1.0f : 0.0f;
  // cuBLAS is column-major: the row-major out[m, n] is out^T[n, m] = weight[n, k] . x^T[k, m],
  // where the row-major weight read column-major is weight^T (hence OP_T) and x is x^T.
  check(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, as_int(n, "n"), as_int(m, "m"),
                     as_int(k, "k"), &alpha, weight, cuda_type(dtype), as_int(k, "k"), x,
                     cuda_type(dtype), as_int(k, "k"), &beta, out, cuda_type(out_dtype),
                     as_int(n, "n"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
}

}  // namespace llmserve::backend::cuda
