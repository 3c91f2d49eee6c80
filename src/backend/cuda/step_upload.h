#pragma once
// Puts a step's Batch on the device: every array packed into one pinned host buffer and sent with
// one async copy on the engine's stream, plus the per-token and per-tile work lists the kernels
// index by (the Batch does not spell them out). The pointers stay valid until the next upload.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "device_memory.h"
#include "llmserve/backend/batch.h"

namespace llmserve::backend::cuda {

struct DeviceStep {
  const std::int32_t* input_ids = nullptr;         // [T]
  const std::int32_t* positions = nullptr;         // [T]
  const std::int64_t* slot_mapping = nullptr;      // [T]
  const std::int32_t* seq_of_token = nullptr;      // [T]
  const std::int32_t* query_start = nullptr;       // [B+1]
  const std::int32_t* block_tables = nullptr;      // [B][max_blocks_per_seq]
  const std::int32_t* logits_rows = nullptr;       // [R]
  const std::int32_t* tile_seq = nullptr;          // [num_tiles] sequence of each query tile
  const std::int32_t* tile_first_query = nullptr;  // [num_tiles] its first new token, in-sequence
  std::int32_t num_tiles = 0;
  bool has_prefill = false;  // some sequence has more than one new token
};

class StepUpload {
 public:
  // `query_tile`: new tokens per tile of the prefill attention kernel's work list.
  explicit StepUpload(std::int32_t query_tile);
  StepUpload(const StepUpload&) = delete;
  StepUpload& operator=(const StepUpload&) = delete;
  ~StepUpload();

  // Waits until the previous upload has left the pinned buffer (it is reused), packs `batch` and
  // queues the copy on `stream`.
  const DeviceStep& upload(const Batch& batch, cudaStream_t stream);

 private:
  std::int32_t query_tile_;
  PinnedBuffer host_;
  std::shared_ptr<void> device_;
  std::size_t device_capacity_ = 0;
  cudaEvent_t copied_ = nullptr;
  DeviceStep step_;
  std::vector<std::int32_t> seq_of_token_, tile_seq_, tile_first_query_;
};

}  // namespace llmserve::backend::cuda
