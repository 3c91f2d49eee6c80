#pragma once
// Chooses the backend for --device: "cpu", "cuda", or "auto" (CUDA when this build has the CUDA
// backend and a device is present, else CPU). An unavailable choice throws llmserve::Error.
#include <memory>
#include <string_view>

#include "llmserve/backend/backend.h"

namespace llmserve::backend {

std::unique_ptr<Backend> make_backend(std::string_view device);

// Number of CUDA devices this process can use; 0 when the build has no CUDA or no driver.
int cuda_device_count();

}  // namespace llmserve::backend
