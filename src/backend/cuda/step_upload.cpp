#include "step_upload.h"

#include <cstring>
#include <span>

#include "cuda_check.h"

namespace llmserve::backend::cuda {
namespace {

constexpr std::size_t kAlignment = 16;

std::size_t aligned(std::size_t bytes) { return (bytes + kAlignment - 1) & ~(kAlignment - 1); }

}  // namespace

StepUpload::StepUpload(std::int32_t query_tile) : query_tile_(query_tile) {
  check(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming), "cudaEventCreate");
}

StepUpload::~StepUpload() { cudaEventDestroy(copied_); }

const DeviceStep& StepUpload::upload(const Batch& batch, cudaStream_t stream) {
  seq_of_token_.assign(static_cast<std::size_t>(batch.num_tokens()), 0);
  tile_seq_.clear();
  tile_first_query_.clear();
  bool has_prefill = false;
  for (std::int32_t s = 0; s < batch.num_seqs(); ++s) {
    const std::int32_t begin = batch.query_start[s];
    const std::int32_t len = batch.query_start[s + 1] - begin;
    std::fill_n(seq_of_token_.begin() + begin, len, s);
    has_prefill = has_prefill || len > 1;
    for (std::int32_t first = 0; first < len; first += query_tile_) {
      tile_seq_.push_back(s);
      tile_first_query_.push_back(first);
    }
  }

  struct Part {
    const void* data;
    std::size_t bytes;
  };
  auto part = [](const auto& v) { return Part{v.data(), std::span(v).size_bytes()}; };
  const Part parts[] = {part(batch.input_ids),   part(batch.positions),   part(batch.slot_mapping),
                        part(seq_of_token_),     part(batch.query_start), part(batch.block_tables),
                        part(batch.logits_rows), part(tile_seq_),         part(tile_first_query_)};
  std::size_t total = 0;
  for (const Part& p : parts) total += aligned(p.bytes);

  check(cudaEventSynchronize(copied_), "cudaEventSynchronize (step upload)");
  std::byte* host = host_.reserve(total);
  if (total > device_capacity_) {
    device_capacity_ = std::max(total, 2 * device_capacity_);
    device_ = allocate_device(device_capacity_, "the step's batch arrays");
  }
  auto* device = static_cast<std::byte*>(device_.get());
  const void* at[std::size(parts)];
  std::size_t offset = 0;
  for (std::size_t i = 0; i < std::size(parts); ++i) {
    if (parts[i].bytes > 0) std::memcpy(host + offset, parts[i].data, parts[i].bytes);
    at[i] = device + offset;
    offset += aligned(parts[i].bytes);
  }
  check(cudaMemcpyAsync(device, host, total, cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync (step upload)");
  check(cudaEventRecord(copied_, stream), "cudaEventRecord (step upload)");

  step_.input_ids = static_cast<const std::int32_t*>(at[0]);
  step_.positions = static_cast<const std::int32_t*>(at[1]);
  step_.slot_mapping = static_cast<const std::int64_t*>(at[2]);
  step_.seq_of_token = static_cast<const std::int32_t*>(at[3]);
  step_.query_start = static_cast<const std::int32_t*>(at[4]);
  step_.block_tables = static_cast<const std::int32_t*>(at[5]);
  step_.logits_rows = static_cast<const std::int32_t*>(at[6]);
  step_.tile_seq = static_cast<const std::int32_t*>(at[7]);
  step_.tile_first_query = static_cast<const std::int32_t*>(at[8]);
  step_.num_tiles = static_cast<std::int32_t>(tile_seq_.size());
  step_.has_prefill = has_prefill;
  return step_;
}

}  // namespace llmserve::backend::cuda
