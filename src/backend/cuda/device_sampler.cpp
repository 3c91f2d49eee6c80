#include "device_sampler.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "cuda_check.h"
#include "llmserve/common/error.h"
#include "sampling_launch.h"

namespace llmserve::backend::cuda {
namespace {

constexpr std::size_t kAlignment = 16;

std::size_t aligned(std::size_t bytes) { return (bytes + kAlignment - 1) & ~(kAlignment - 1); }

DeviceSamplingRow pack_row(const SamplingRow& row, std::size_t edits_begin) {
  DeviceSamplingRow packed;
  packed.uniform = row.uniform;
  packed.logits_row = row.logits_row;
  packed.edits_begin = static_cast<std::int32_t>(edits_begin);
  packed.edits_count = static_cast<std::int32_t>(row.edits.size());
  packed.top_k = row.top_k;
  packed.num_top_logprobs = row.num_top_logprobs;
  packed.temperature = row.temperature;
  packed.top_p = row.top_p;
  packed.min_p = row.min_p;
  packed.repetition_penalty = row.repetition_penalty;
  packed.presence_penalty = row.presence_penalty;
  packed.frequency_penalty = row.frequency_penalty;
  return packed;
}

// The kernel finds a token's edit by its rank among the row's edited ids: sorted, unique.
void pack_edits(std::span<const LogitEdit> edits, std::int64_t vocab, DeviceLogitEdit* out) {
  for (std::size_t j = 0; j < edits.size(); ++j) {
    const LogitEdit& edit = edits[j];
    if (edit.id < 0 || edit.id >= vocab) {
      throw Error("device sampling: edited token id {} is outside the vocabulary [0, {})", edit.id,
                  vocab);
    }
    out[j] = {edit.id, edit.bias, edit.output_count,
              (edit.penalised ? kDeviceEditPenalised : 0u) | (edit.masked ? kDeviceEditMasked : 0u)};
  }
  const auto by_id = [](const DeviceLogitEdit& a, const DeviceLogitEdit& b) { return a.id < b.id; };
  std::sort(out, out + edits.size(), by_id);
  const auto same_id = [](const DeviceLogitEdit& a, const DeviceLogitEdit& b) {
    return a.id == b.id;
  };
  if (const auto* twice = std::adjacent_find(out, out + edits.size(), same_id);
      twice != out + edits.size()) {
    throw Error("device sampling: token id {} is edited twice in one row", twice->id);
  }
}

void unpack(const DeviceSampledToken& from, SampledToken& to) {
  to.token = from.token;
  to.logprob = from.logprob;
  to.top_ids.assign(from.top_ids, from.top_ids + from.num_top);
  to.top_logprobs.assign(from.top_logprobs, from.top_logprobs + from.num_top);
  to.non_finite_id = from.non_finite_id;
  to.non_finite_value = from.non_finite_value;
  to.all_masked = from.status == DeviceSampleStatus::kAllMasked;
  to.infinite_after_edits = from.status == DeviceSampleStatus::kInfinite;
}

}  // namespace

DeviceSampler::DeviceSampler() = default;

DeviceSampler::~DeviceSampler() = default;

void DeviceSampler::sample(const float* logits, std::int64_t vocab,
                           std::span<const SamplingRow> rows, std::span<SampledToken> out,
                           cudaStream_t stream) {
  assert(rows.size() == out.size());
  if (rows.empty()) return;
  if (vocab <= 0 || vocab > kMaxDeviceSamplingVocab) {
    throw Error("device sampling: the vocabulary has {} tokens, supported are 1 to {}", vocab,
                kMaxDeviceSamplingVocab);
  }
  std::size_t num_edits = 0;
  for (const SamplingRow& row : rows) {
    if (row.num_top_logprobs > kMaxDeviceTopLogprobs) {
      throw Error("device sampling: {} top logprobs asked, at most {}", row.num_top_logprobs,
                  kMaxDeviceTopLogprobs);
    }
    num_edits += row.edits.size();
  }

  const std::size_t rows_bytes = aligned(rows.size() * sizeof(DeviceSamplingRow));
  const std::size_t upload_bytes = rows_bytes + aligned(num_edits * sizeof(DeviceLogitEdit));
  const std::size_t results_bytes = rows.size() * sizeof(DeviceSampledToken);
  std::byte* host = upload_.reserve(upload_bytes);
  auto* host_rows = reinterpret_cast<DeviceSamplingRow*>(host);
  auto* host_edits = reinterpret_cast<DeviceLogitEdit*>(host + rows_bytes);
  std::size_t edits_begin = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    host_rows[r] = pack_row(rows[r], edits_begin);
    pack_edits(rows[r].edits, vocab, host_edits + edits_begin);
    edits_begin += rows[r].edits.size();
  }

  if (upload_bytes + results_bytes > device_capacity_) {
    device_capacity_ = std::max(upload_bytes + results_bytes, 2 * device_capacity_);
    device_ = allocate_device(device_capacity_, "device sampling rows and results");
  }
  auto* device = static_cast<std::byte*>(device_.get());
  check(cudaMemcpyAsync(device, host, upload_bytes, cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync (sampling rows)");
  auto* device_results = reinterpret_cast<DeviceSampledToken*>(device + upload_bytes);
  check(launch_sample(logits, vocab, reinterpret_cast<const DeviceSamplingRow*>(device),
                      static_cast<std::int32_t>(rows.size()),
                      reinterpret_cast<const DeviceLogitEdit*>(device + rows_bytes),
                      device_results, stream),
        "sampling kernel");
  auto* results = reinterpret_cast<DeviceSampledToken*>(download_.reserve(results_bytes));
  check(cudaMemcpyAsync(results, device_results, results_bytes, cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync (sampled tokens)");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (sampling)");
  for (std::size_t r = 0; r < rows.size(); ++r) unpack(results[r], out[r]);
}

}  // namespace llmserve::backend::cuda
