#pragma once
// Puts a step's Batch on the device: every array packed into one pinned host buffer and sent with
// one async copy on the engine's stream, plus the work lists the kernels index by (the Batch does
// not spell them out): the sequence of each token, the one-token queries for the decode kernel
// and the query tiles of the longer ones for the prefill kernel.
//
// Each array sits at a fixed offset inside buffers sized for a capacity of tokens and sequences,
// so a step no larger than the capacity lands at the addresses of the last one: a CUDA graph
// recorded on one step replays on the next with the same pointers. The capacity grows (geometric)
// only when a step exceeds it, and generation() then changes: recordings older than it are stale.
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
  const std::int32_t* decode_tokens = nullptr;     // [num_decode] tokens that are their
                                                   // sequence's only new token
  const std::int32_t* logits_rows = nullptr;       // [R]
  const std::int32_t* query_start = nullptr;       // [B+1]
  const std::int32_t* tile_seq = nullptr;          // [num_tiles] sequence of each query tile
  const std::int32_t* tile_first_query = nullptr;  // [num_tiles] its first new token, in-sequence
  const std::int32_t* table_stride = nullptr;      // [1] the batch's max_blocks_per_seq
  const std::int32_t* block_tables = nullptr;      // [B][*table_stride]
  std::int32_t num_decode = 0;
  std::int32_t num_tiles = 0;
  std::int32_t max_decode_context = 0;  // longest context among decode_tokens
};

class StepUpload {
 public:
  // `query_tile`: new tokens per tile of the prefill attention kernel's work list.
  explicit StepUpload(std::int32_t query_tile);
  StepUpload(const StepUpload&) = delete;
  StepUpload& operator=(const StepUpload&) = delete;
  ~StepUpload();

  // Sizes the buffers for steps of up to `tokens` tokens and `seqs` sequences with block tables
  // of up to `table_width` blocks, so that such steps never move them.
  void reserve(std::int32_t tokens, std::int32_t seqs, std::int32_t table_width);

  // Waits until the previous upload has left the pinned buffer (it is reused), packs `batch` and
  // queues the copy on `stream`.
  const DeviceStep& upload(const Batch& batch, cudaStream_t stream);

  // Changes whenever the device buffer moves.
  std::uint64_t generation() const { return generation_; }

 private:
  struct Layout;  // offsets of the arrays for the current capacity
  void grow(std::int32_t tokens, std::int32_t seqs, std::int64_t table_entries);

  std::int32_t query_tile_;
  std::int32_t token_capacity_ = 0;
  std::int32_t seq_capacity_ = 0;
  std::int64_t table_capacity_ = 0;  // block table entries
  PinnedBuffer host_;
  std::shared_ptr<void> device_;
  std::uint64_t generation_ = 0;
  cudaEvent_t copied_ = nullptr;
  DeviceStep step_;
  std::vector<std::int32_t> seq_of_token_, decode_tokens_, tile_seq_, tile_first_query_;
};

}  // namespace llmserve::backend::cuda
