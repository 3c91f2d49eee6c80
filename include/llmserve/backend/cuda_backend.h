#pragma once
// The CUDA backend (built only when the build has CUDA): weights, activations and the paged KV
// cache in bf16 or fp16 on one device, fp32 accumulation everywhere. GEMMs through cuBLAS, the
// other ops through the kernels in kernels/ (launchers in src/backend/cuda/). Every op is queued
// on the backend's one stream; download() is the step's only synchronisation. Every CUDA or
// cuBLAS failure becomes an llmserve::Error naming the call, and an allocation that does not fit
// says how much was asked and how much is free.
#include <memory>

#include "llmserve/backend/backend.h"

namespace llmserve::backend {

// `dtype` is kBF16 or kF16. Throws llmserve::Error when `device` cannot be used.
std::unique_ptr<Backend> make_cuda_backend(int device, DType dtype);

}  // namespace llmserve::backend
