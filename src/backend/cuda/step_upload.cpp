#include "step_upload.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>

#include "cuda_check.h"

namespace llmserve::backend::cuda {
namespace {

constexpr std::size_t kAlignment = 16;

std::size_t aligned(std::size_t bytes) { return (bytes + kAlignment - 1) & ~(kAlignment - 1); }

// The arrays in buffer order. The block tables come last: the copy ends with them, so the unused
// capacity of the small arrays is all that travels besides the step's data.
enum Part : std::size_t {
  kStride,
  kInputIds,
  kPositions,
  kSlots,
  kSeqOfToken,
  kDecodeTokens,
  kLogitsRows,
  kQueryStart,
  kTileSeq,
  kTileFirstQuery,
  kBlockTables,
  kNumParts
};

}  // namespace

struct StepUpload::Layout {
  std::array<std::size_t, kNumParts + 1> offset{};  // offset[kNumParts]: the buffer's size

  Layout(std::int32_t tokens, std::int32_t seqs, std::int64_t table_entries,
         std::int32_t query_tile) {
    const auto t = static_cast<std::size_t>(tokens);
    const auto s = static_cast<std::size_t>(seqs);
    // A sequence of n new tokens has ceil(n / query_tile) <= n / query_tile + 1 tiles.
    const std::size_t tiles = t / static_cast<std::size_t>(query_tile) + s;
    const std::array<std::size_t, kNumParts> bytes{
        sizeof(std::int32_t),      t * 4, t * 4, t * 8, t * 4, t * 4, t * 4, (s + 1) * 4,
        tiles * 4,                 tiles * 4,
        static_cast<std::size_t>(table_entries) * 4};
    for (std::size_t i = 0; i < kNumParts; ++i) offset[i + 1] = offset[i] + aligned(bytes[i]);
  }
};

StepUpload::StepUpload(std::int32_t query_tile) : query_tile_(query_tile) {
  check(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming), "cudaEventCreate");
}

StepUpload::~StepUpload() { cudaEventDestroy(copied_); }

void StepUpload::reserve(std::int32_t tokens, std::int32_t seqs, std::int32_t table_width) {
  grow(tokens, seqs, std::int64_t{seqs} * table_width);
}

void StepUpload::grow(std::int32_t tokens, std::int32_t seqs, std::int64_t table_entries) {
  if (tokens <= token_capacity_ && seqs <= seq_capacity_ && table_entries <= table_capacity_) {
    return;
  }
  // Geometric growth in each dimension that overflowed, so that a rising load moves it rarely.
  auto grown = [](auto need, auto have) { return need <= have ? have : std::max(need, 2 * have); };
  token_capacity_ = grown(tokens, token_capacity_);
  seq_capacity_ = grown(seqs, seq_capacity_);
  table_capacity_ = grown(table_entries, table_capacity_);
  const Layout layout(token_capacity_, seq_capacity_, table_capacity_, query_tile_);
  // The copy in flight reads the pinned buffer, which reserve() below may replace.
  check(cudaEventSynchronize(copied_), "cudaEventSynchronize (step upload)");
  host_.reserve(layout.offset[kNumParts]);
  device_ = allocate_device(layout.offset[kNumParts], "the step's batch arrays");
  ++generation_;
}

const DeviceStep& StepUpload::upload(const Batch& batch, cudaStream_t stream) {
  seq_of_token_.assign(static_cast<std::size_t>(batch.num_tokens()), 0);
  decode_tokens_.clear();
  tile_seq_.clear();
  tile_first_query_.clear();
  std::int32_t max_decode_context = 0;
  for (std::int32_t s = 0; s < batch.num_seqs(); ++s) {
    const std::int32_t begin = batch.query_start[s];
    const std::int32_t len = batch.query_start[s + 1] - begin;
    std::fill_n(seq_of_token_.begin() + begin, len, s);
    if (len == 1) {
      decode_tokens_.push_back(begin);
      max_decode_context = std::max(max_decode_context, batch.context_lens[s]);
      continue;
    }
    for (std::int32_t first = 0; first < len; first += query_tile_) {
      tile_seq_.push_back(s);
      tile_first_query_.push_back(first);
    }
  }
  grow(batch.num_tokens(), batch.num_seqs(), std::ssize(batch.block_tables));

  struct Source {
    const void* data;
    std::size_t bytes;
  };
  auto source = [](const auto& v) { return Source{v.data(), std::span(v).size_bytes()}; };
  const std::array<Source, kNumParts> sources{
      Source{&batch.max_blocks_per_seq, sizeof(std::int32_t)},
      source(batch.input_ids),
      source(batch.positions),
      source(batch.slot_mapping),
      source(seq_of_token_),
      source(decode_tokens_),
      source(batch.logits_rows),
      source(batch.query_start),
      source(tile_seq_),
      source(tile_first_query_),
      source(batch.block_tables)};
  const Layout layout(token_capacity_, seq_capacity_, table_capacity_, query_tile_);

  check(cudaEventSynchronize(copied_), "cudaEventSynchronize (step upload)");
  std::byte* host = host_.data();
  for (std::size_t i = 0; i < kNumParts; ++i) {
    if (sources[i].bytes > 0) std::memcpy(host + layout.offset[i], sources[i].data, sources[i].bytes);
  }
  const std::size_t total = layout.offset[kBlockTables] + sources[kBlockTables].bytes;
  auto* device = static_cast<std::byte*>(device_.get());
  check(cudaMemcpyAsync(device, host, total, cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync (step upload)");
  check(cudaEventRecord(copied_, stream), "cudaEventRecord (step upload)");

  auto at = [&](Part part) { return reinterpret_cast<const std::int32_t*>(device + layout.offset[part]); };
  step_.table_stride = at(kStride);
  step_.input_ids = at(kInputIds);
  step_.positions = at(kPositions);
  step_.slot_mapping = reinterpret_cast<const std::int64_t*>(device + layout.offset[kSlots]);
  step_.seq_of_token = at(kSeqOfToken);
  step_.decode_tokens = at(kDecodeTokens);
  step_.logits_rows = at(kLogitsRows);
  step_.query_start = at(kQueryStart);
  step_.tile_seq = at(kTileSeq);
  step_.tile_first_query = at(kTileFirstQuery);
  step_.block_tables = at(kBlockTables);
  step_.num_decode = static_cast<std::int32_t>(decode_tokens_.size());
  step_.num_tiles = static_cast<std::int32_t>(tile_seq_.size());
  step_.max_decode_context = max_decode_context;
  return step_;
}

}  // namespace llmserve::backend::cuda
