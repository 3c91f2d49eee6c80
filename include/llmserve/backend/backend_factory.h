#pragma once
// Chooses the backend for --device and --dtype. Device: "cpu", "cuda", or "auto" (CUDA when this
// build has the CUDA backend and a device is present, else CPU). Dtype: "auto" (bfloat16 on CUDA,
// float32 on CPU), "bfloat16", "float16" (CUDA only) or "float32" (CPU only). An unavailable
// choice throws llmserve::Error saying why.
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "llmserve/backend/backend.h"

namespace llmserve::backend {

std::unique_ptr<Backend> make_backend(std::string_view device, std::string_view dtype = "auto");

// Number of CUDA devices this process can use; 0 when the build has no CUDA or no driver.
int cuda_device_count();
// All the memory of CUDA device `device` in bytes; nullopt when the build has no CUDA or there is
// no such device.
std::optional<std::int64_t> cuda_device_total_memory(int device);

}  // namespace llmserve::backend
