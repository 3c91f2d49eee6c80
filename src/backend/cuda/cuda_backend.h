#pragma once
// CudaBackend, private to the CUDA backend's files; users see only make_cuda_backend().
#include <cuda_runtime_api.h>

#include <optional>
#include <vector>

#include "device_sampler.h"
#include "gemm.h"
#include "llmserve/backend/cuda_backend.h"
#include "step_upload.h"

namespace llmserve::backend::cuda {

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, DType dtype);
  ~CudaBackend() override;

  std::string_view name() const override { return "cuda"; }
  DType compute_dtype() const override { return dtype_; }

  using Backend::empty;
  Tensor empty(std::vector<std::int64_t> shape, DType dtype) override;
  Tensor upload(std::span<const float> host, std::vector<std::int64_t> shape) override;
  void download(const Tensor& tensor, std::span<float> host) override;
  std::optional<DeviceMemory> device_memory() const override;
  void allocate_kv_cache(const KvCacheLayout& layout) override;
  const KvCacheLayout& kv_cache_layout() const override { return kv_layout_; }

  void begin_step(const Batch& batch) override;
  void embed(const Tensor& table, const Tensor* positions_table, Tensor& out) override;
  void norm(NormType type, const Tensor& x, const Tensor& weight, const Tensor* bias, float eps,
            Tensor& out) override;
  void add_norm(NormType type, Tensor& residual, const Tensor& x, const Tensor& weight,
                const Tensor* bias, float eps, Tensor& out) override;
  void add(Tensor& x, const Tensor& y) override;
  void linear(const Tensor& x, const Tensor& weight, const Tensor* bias, Tensor& out) override;
  void rotary(Tensor& qkv, float theta) override;
  void write_kv(std::int32_t layer, const Tensor& qkv) override;
  void paged_attention(std::int32_t layer, const Tensor& qkv, float scale, Tensor& out) override;
  void gelu_new(Tensor& x) override;
  void silu_mul(const Tensor& gate_up, Tensor& out) override;
  void gather_rows(const Tensor& x, Tensor& out) override;

  bool samples_on_device() const override { return true; }
  void sample(const Tensor& logits, std::span<const SamplingRow> rows,
              std::span<SampledToken> out) override;

  void reserve_steps(std::int32_t max_tokens, std::int32_t max_seqs,
                     std::int32_t max_context) override;
  bool can_record() const override { return true; }
  void begin_recording() override;
  std::unique_ptr<Recording> end_recording() override;
  bool replay(const Recording& recording) override;

 private:
  // Step buffers that recordings point into: a recording is stale once either moved.
  struct Generation {
    std::uint64_t step_upload = 0;
    std::uint64_t split_workspace = 0;
    bool operator==(const Generation&) const = default;
  };
  Generation generation() const;
  // At least `floats` of split-K workspace for decode attention.
  float* split_workspace(std::int64_t floats);

  // Throws unless `t` is stored in the compute dtype (every op's activations and weights).
  void require_compute(const Tensor& t, const char* op) const;
  void copy_blocks(std::span<const Batch::BlockCopy> copies);

  int device_;
  int num_sms_ = 0;
  DType dtype_;
  cudaStream_t stream_ = nullptr;  // the engine's one stream: every op, copy and GEMM
  std::optional<Gemm> gemm_;
  std::optional<StepUpload> step_upload_;
  DeviceSampler sampler_;
  const Batch* batch_ = nullptr;  // the host copy, for checks and sizes
  const DeviceStep* step_ = nullptr;
  std::shared_ptr<void> split_workspace_;
  std::int64_t split_workspace_floats_ = 0;
  std::uint64_t split_workspace_generation_ = 0;
  std::int32_t max_context_ = 0;  // reserve_steps()'s; recordings plan attention for it
  bool recording_ = false;
  // embed()'s checks, run again by replay(): a replayed step does not call embed().
  std::int64_t vocab_size_ = 0;
  std::optional<std::int64_t> num_positions_;
  KvCacheLayout kv_layout_;
  std::vector<Tensor> k_cache_, v_cache_;  // per layer [num_blocks * block_size, kv_heads * hd]
};

}  // namespace llmserve::backend::cuda
