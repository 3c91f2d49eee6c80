#include <cstddef>

#include "kernels/sampling.cuh"
#include "sampling_launch.h"

namespace llmserve::backend::cuda {
namespace {

// The host packs what the kernel reads: the same fields at the same offsets.
#define LLMSERVE_SAME_FIELD(Host, Kernel, field) \
  static_assert(offsetof(Host, field) == offsetof(Kernel, field), #Host "::" #field)

using kernels::SampledTokenArgs;
using kernels::SamplingEditArgs;
using kernels::SamplingRowArgs;

static_assert(sizeof(DeviceSamplingRow) == sizeof(SamplingRowArgs));
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, uniform);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, logits_row);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, edits_begin);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, edits_count);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, top_k);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, num_top_logprobs);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, temperature);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, top_p);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, min_p);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, repetition_penalty);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, presence_penalty);
LLMSERVE_SAME_FIELD(DeviceSamplingRow, SamplingRowArgs, frequency_penalty);

static_assert(sizeof(DeviceLogitEdit) == sizeof(SamplingEditArgs));
LLMSERVE_SAME_FIELD(DeviceLogitEdit, SamplingEditArgs, id);
LLMSERVE_SAME_FIELD(DeviceLogitEdit, SamplingEditArgs, bias);
LLMSERVE_SAME_FIELD(DeviceLogitEdit, SamplingEditArgs, output_count);
LLMSERVE_SAME_FIELD(DeviceLogitEdit, SamplingEditArgs, flags);
static_assert(kDeviceEditPenalised == kernels::kEditPenalised);
static_assert(kDeviceEditMasked == kernels::kEditMasked);

static_assert(sizeof(DeviceSampledToken) == sizeof(SampledTokenArgs));
LLMSERVE_SAME_FIELD(DeviceSampledToken, SampledTokenArgs, token);
LLMSERVE_SAME_FIELD(DeviceSampledToken, SampledTokenArgs, logprob);
LLMSERVE_SAME_FIELD(DeviceSampledToken, SampledTokenArgs, non_finite_id);
LLMSERVE_SAME_FIELD(DeviceSampledToken, SampledTokenArgs, non_finite_value);
LLMSERVE_SAME_FIELD(DeviceSampledToken, SampledTokenArgs, status);
LLMSERVE_SAME_FIELD(DeviceSampledToken, SampledTokenArgs, num_top);
LLMSERVE_SAME_FIELD(DeviceSampledToken, SampledTokenArgs, top_ids);
LLMSERVE_SAME_FIELD(DeviceSampledToken, SampledTokenArgs, top_logprobs);
static_assert(kMaxDeviceTopLogprobs == kernels::kMaxTopLogprobs);
static_assert(static_cast<std::int32_t>(DeviceSampleStatus::kOk) == kernels::kSampledOk);
static_assert(static_cast<std::int32_t>(DeviceSampleStatus::kNonFinite) ==
              kernels::kSampledNonFinite);
static_assert(static_cast<std::int32_t>(DeviceSampleStatus::kAllMasked) ==
              kernels::kSampledAllMasked);
static_assert(static_cast<std::int32_t>(DeviceSampleStatus::kInfinite) ==
              kernels::kSampledInfinite);

#undef LLMSERVE_SAME_FIELD

}  // namespace

cudaError_t launch_sample(const float* logits, std::int64_t vocab, const DeviceSamplingRow* rows,
                          std::int32_t num_rows, const DeviceLogitEdit* edits,
                          DeviceSampledToken* out, cudaStream_t stream) {
  const std::size_t smem = kernels::sample_dynamic_smem_bytes(vocab);
  // Past 48 KiB in all (vocab above ~28k) the kernel must opt in; the attribute is per device.
  const cudaError_t opt_in = cudaFuncSetAttribute(
      kernels::sample_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (opt_in != cudaSuccess) return opt_in;
  kernels::sample_kernel<<<static_cast<unsigned>(num_rows), kernels::kSampleThreads, smem,
                           stream>>>(logits, static_cast<int>(vocab),
                                     reinterpret_cast<const SamplingRowArgs*>(rows),
                                     reinterpret_cast<const SamplingEditArgs*>(edits),
                                     reinterpret_cast<SampledTokenArgs*>(out));
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
