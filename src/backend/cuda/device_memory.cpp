#include "device_memory.h"

#include <cuda_runtime_api.h>

#include "cuda_check.h"
#include "llmserve/common/error.h"

namespace llmserve::backend::cuda {
namespace {

double gib(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 30); }

}  // namespace

std::shared_ptr<void> allocate_device(std::size_t bytes, std::string_view what) {
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    std::size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    throw Error(
        "cuda: out of memory allocating {:.2f} GiB ({} bytes) for {}: {:.2f} GiB free of {:.2f} "
        "GiB",
        gib(bytes), bytes, what, gib(free), gib(total));
  }
  check(status, "cudaMalloc");
  return std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);
}

std::byte* PinnedBuffer::reserve(std::size_t bytes) {
  if (bytes <= capacity_) return data_;
  const std::size_t capacity = std::max(bytes, 2 * capacity_);
  void* p = nullptr;
  check(cudaMallocHost(&p, capacity), "cudaMallocHost");
  if (data_ != nullptr) cudaFreeHost(data_);
  data_ = static_cast<std::byte*>(p);
  capacity_ = capacity;
  return data_;
}

}  // namespace llmserve::backend::cuda
