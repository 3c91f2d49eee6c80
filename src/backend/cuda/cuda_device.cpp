#include "llmserve/backend/cuda_device.h"

#include <cuda_runtime_api.h>

namespace llmserve::backend::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" / "no device" error
    return 0;
  }
  return count;
}

std::string device_count_problem() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  cudaGetLastError();
  if (status != cudaSuccess) return cudaGetErrorString(status);
  return count == 0 ? "the driver reports no device" : "none";
}

std::string device_name(int device) {
  cudaDeviceProp props{};
  if (cudaGetDeviceProperties(&props, device) != cudaSuccess) return "unknown CUDA device";
  return props.name;
}

std::optional<std::size_t> device_total_memory(int device) {
  // The properties rather than cudaMemGetInfo, which would create a context (taking device memory)
  // just to answer.
  cudaDeviceProp props{};
  if (cudaGetDeviceProperties(&props, device) != cudaSuccess) {
    cudaGetLastError();
    return std::nullopt;
  }
  return props.totalGlobalMem;
}

}  // namespace llmserve::backend::cuda
