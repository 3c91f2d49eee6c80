#pragma once
// CpuBackend, private to the CPU backend's files; users see only make_cpu_backend().
#include <optional>
#include <span>
#include <vector>

#include "llmserve/backend/cpu_backend.h"

namespace llmserve::backend {

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  DType compute_dtype() const override { return DType::kF32; }

  using Backend::empty;
  Tensor empty(std::vector<std::int64_t> shape, DType dtype) override;
  Tensor upload(std::span<const float> host, std::vector<std::int64_t> shape) override;
  void download(const Tensor& tensor, std::span<float> host) override;
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

 private:
  void copy_blocks(std::span<const Batch::BlockCopy> copies);

  const Batch* batch_ = nullptr;
  KvCacheLayout kv_layout_;
  // cos/sin of the current step's positions [T, head_dim / 2], built by the first rotary() call
  // of a step for that theta and reused by the other layers; begin_step() resets it.
  std::optional<float> rotary_theta_;
  std::vector<float> rotary_cos_, rotary_sin_;
  std::vector<Tensor> k_cache_, v_cache_;  // per layer [num_blocks * block_size, kv_heads * hd]
};

// Paged causal attention over the batch (cpu_attention.cpp). qkv [T, (nh + 2 nkv) hd],
// out [T, nh hd]; K/V of each layer [slots, nkv hd].
void cpu_paged_attention(const Batch& batch, const KvCacheLayout& layout, const float* qkv,
                         const float* k_cache, const float* v_cache, float scale, float* out);

}  // namespace llmserve::backend
