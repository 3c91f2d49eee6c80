#pragma once
// Host-side CUDA device discovery (compiled only when the build has CUDA). Never throws: a
// machine without a driver or device reports zero devices.
#include <string>

namespace llmserve::backend::cuda {

int device_count();
std::string device_name(int device);

}  // namespace llmserve::backend::cuda
