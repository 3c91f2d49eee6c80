#pragma once
// The CPU backend: fp32 everywhere (weights converted at load), GEMMs through OpenBLAS, the other
// ops as plain loops parallelised with OpenMP over rows or (token, head) pairs. It is the
// reference the CUDA backend is tested against, so clarity wins over speed outside the GEMMs.
#include <memory>

#include "llmserve/backend/backend.h"

namespace llmserve::backend {

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace llmserve::backend
