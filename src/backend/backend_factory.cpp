#include "llmserve/backend/backend_factory.h"

#include <spdlog/spdlog.h>

#include "llmserve/backend/cpu_backend.h"
#include "llmserve/common/error.h"
#ifdef LLMSERVE_HAS_CUDA
#include "llmserve/backend/cuda_device.h"
#endif

namespace llmserve::backend {

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

std::unique_ptr<Backend> make_backend(std::string_view device) {
  if (device == "cpu") return make_cpu_backend();
  if (device == "auto") {
    if (cuda_device_count() > 0) {
      // The CUDA compute backend (kernels, cuBLAS) is not in this build yet: say so, then run.
      spdlog::warn(
          "a CUDA device is present but the CUDA backend is not implemented yet; using cpu");
    }
    return make_cpu_backend();
  }
  if (device == "cuda") {
    throw Error("--device cuda: the CUDA backend is not implemented in this version (use cpu)");
  }
  throw Error("--device must be auto, cpu or cuda, got \"{}\"", device);
}

}  // namespace llmserve::backend
