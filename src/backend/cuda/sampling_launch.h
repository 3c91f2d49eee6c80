#pragma once
// Host entry point of the sampling kernel (kernels/sampling.cuh), beside launchers.h: the
// DeviceSampler packs rows and edits in these layouts, which are the kernel's own (sampling.cu
// checks that they match field for field), and reads results back in the last one.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace llmserve::backend::cuda {

inline constexpr std::int32_t kMaxDeviceTopLogprobs = 20;  // engine::kMaxLogprobs
// The edit index of a row lives in shared memory (vocab / 4 bytes): 2^19 tokens keep it at 128 KiB.
inline constexpr std::int64_t kMaxDeviceSamplingVocab = std::int64_t{1} << 19;

inline constexpr std::uint32_t kDeviceEditPenalised = 1;
inline constexpr std::uint32_t kDeviceEditMasked = 2;

enum class DeviceSampleStatus : std::int32_t { kOk = 0, kNonFinite = 1, kAllMasked = 2, kInfinite = 3 };

struct DeviceSamplingRow {
  double uniform = 0.0;
  std::int32_t logits_row = 0;
  std::int32_t edits_begin = 0;  // into the launch's edits, sorted by id within the row
  std::int32_t edits_count = 0;
  std::int32_t top_k = 0;
  std::int32_t num_top_logprobs = -1;
  float temperature = 0.0f;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
};

struct DeviceLogitEdit {
  std::int32_t id = 0;
  float bias = 0.0f;
  std::int32_t output_count = 0;
  std::uint32_t flags = 0;  // kDeviceEditPenalised | kDeviceEditMasked
};

struct DeviceSampledToken {
  std::int32_t token;
  float logprob;
  std::int32_t non_finite_id;
  float non_finite_value;
  DeviceSampleStatus status;
  std::int32_t num_top;
  std::int32_t top_ids[kMaxDeviceTopLogprobs];
  float top_logprobs[kMaxDeviceTopLogprobs];
};

// One block per row: rows[r] samples logits row rows[r].logits_row ([*, vocab] fp32) into out[r].
// vocab <= kMaxDeviceSamplingVocab; every edit id lies in [0, vocab), unique within its row.
cudaError_t launch_sample(const float* logits, std::int64_t vocab, const DeviceSamplingRow* rows,
                          std::int32_t num_rows, const DeviceLogitEdit* edits,
                          DeviceSampledToken* out, cudaStream_t stream);

}  // namespace llmserve::backend::cuda
