#include "llmserve/backend/backend_factory.h"

#include "llmserve/backend/cpu_backend.h"
#include "llmserve/common/error.h"
#ifdef LLMSERVE_HAS_CUDA
#include "llmserve/backend/cuda_backend.h"
#include "llmserve/backend/cuda_device.h"
#endif

namespace llmserve::backend {
namespace {

std::unique_ptr<Backend> make_cpu(std::string_view dtype) {
  if (dtype != "auto" && dtype != "float32") {
    throw Error("--dtype {}: the cpu backend computes in float32 (use --device cuda for {})", dtype,
                dtype);
  }
  return make_cpu_backend();
}

std::unique_ptr<Backend> make_cuda([[maybe_unused]] std::string_view dtype) {
#ifdef LLMSERVE_HAS_CUDA
  if (cuda::device_count() == 0) {
    throw Error("--device cuda: no CUDA device is visible to this process ({})",
                cuda::device_count_problem());
  }
  if (dtype == "float32") {
    throw Error("--dtype float32: the cuda backend computes in bfloat16 or float16");
  }
  return make_cuda_backend(0, dtype == "float16" ? DType::kF16 : DType::kBF16);
#else
  throw Error("--device cuda: this build has no CUDA backend (rebuild with nvcc installed)");
#endif
}

}  // namespace

int cuda_device_count() {
#ifdef LLMSERVE_HAS_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

std::optional<std::int64_t> cuda_device_total_memory([[maybe_unused]] int device) {
#ifdef LLMSERVE_HAS_CUDA
  if (device < 0 || device >= cuda::device_count()) return std::nullopt;
  if (auto bytes = cuda::device_total_memory(device)) return static_cast<std::int64_t>(*bytes);
#endif
  return std::nullopt;
}

std::unique_ptr<Backend> make_backend(std::string_view device, std::string_view dtype) {
  if (dtype != "auto" && dtype != "bfloat16" && dtype != "float16" && dtype != "float32") {
    throw Error("--dtype must be auto, bfloat16, float16 or float32, got \"{}\"", dtype);
  }
  if (device == "cpu") return make_cpu(dtype);
  if (device == "cuda") return make_cuda(dtype);
  if (device == "auto") {
    // An explicit float32 is a CPU-only dtype, so it picks the CPU even where a GPU is present.
    if (cuda_device_count() > 0 && dtype != "float32") return make_cuda(dtype);
    return make_cpu(dtype);
  }
  throw Error("--device must be auto, cpu or cuda, got \"{}\"", device);
}

}  // namespace llmserve::backend
