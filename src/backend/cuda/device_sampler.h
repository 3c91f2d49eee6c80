#pragma once
// Sampling on the device for the CudaBackend (backend/device_sampling.h is the contract): packs
// a step's SamplingRows and their edits into one pinned buffer, sends it with one copy, runs the
// sampling kernel (kernels/sampling.cuh) and brings the results back with one more. Buffers grow
// geometrically and are reused, so a steady state allocates nothing. One caller at a time.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "device_memory.h"
#include "llmserve/backend/device_sampling.h"

namespace llmserve::backend::cuda {

class DeviceSampler {
 public:
  DeviceSampler();  // allocates nothing until the first call
  DeviceSampler(const DeviceSampler&) = delete;
  DeviceSampler& operator=(const DeviceSampler&) = delete;
  ~DeviceSampler();

  // Samples logits row rows[r].logits_row of `logits` ([*, vocab] fp32, device) under rows[r]
  // into out[r] on `stream`, then waits for the results (the pinned buffers are then free for
  // the next call). out.size() == rows.size(). Throws llmserve::Error on CUDA errors, on a
  // vocabulary above kMaxDeviceSamplingVocab, on more top logprobs than kMaxDeviceTopLogprobs
  // and on an edit id outside the vocabulary or repeated within its row.
  void sample(const float* logits, std::int64_t vocab, std::span<const SamplingRow> rows,
              std::span<SampledToken> out, cudaStream_t stream);

 private:
  PinnedBuffer upload_;    // rows, then edits
  PinnedBuffer download_;  // results
  std::shared_ptr<void> device_;  // rows, edits, results
  std::size_t device_capacity_ = 0;
};

}  // namespace llmserve::backend::cuda
