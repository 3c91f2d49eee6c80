#pragma once
// Host-side CUDA device discovery (compiled only when the build has CUDA). Never throws: a
// machine without a driver or device reports zero devices.
#include <cstddef>
#include <optional>
#include <string>

namespace llmserve::backend::cuda {

int device_count();
// Why device_count() is 0: the CUDA runtime's message ("no CUDA-capable device is detected", ...).
std::string device_count_problem();
std::string device_name(int device);
// All of `device`'s memory in bytes, used or not; nullopt when it cannot be queried.
std::optional<std::size_t> device_total_memory(int device);

}  // namespace llmserve::backend::cuda
