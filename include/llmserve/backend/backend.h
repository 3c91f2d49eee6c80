#pragma once
// The compute interface ModelRunner is written against, once for every architecture. A backend
// owns its memory (weights, KV cache, activations) and runs the layer ops of one step over the
// Batch given to begin_step(). Activations are [T, cols] in the backend's compute dtype; weights
// follow nn.Linear's [out, in] layout. Order of calls: allocate_kv_cache() once, then per step
// begin_step() and the ops. The attention ops (rotary, write_kv, paged_attention) take their head
// geometry from the KV cache layout, not from the tensors. Ops throw llmserve::Error on shapes or
// ids they cannot honour. Ops may run asynchronously (CUDA: in order on one stream); download()
// waits for everything before it. Not thread-safe: the engine thread drives it.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "llmserve/backend/batch.h"
#include "llmserve/backend/device_sampling.h"
#include "llmserve/backend/tensor.h"

namespace llmserve::backend {

enum class NormType { kLayerNorm, kRmsNorm };

// Geometry of the paged KV cache: per layer, K and V are each
// [num_blocks, block_size, num_kv_heads, head_dim].
struct KvCacheLayout {
  std::int32_t num_layers = 0;
  std::int32_t num_blocks = 0;
  std::int32_t block_size = 16;
  std::int32_t num_heads = 0;  // query heads; a multiple of num_kv_heads (GQA)
  std::int32_t num_kv_heads = 0;
  std::int32_t head_dim = 0;
};

// Throws llmserve::Error unless every size is positive and num_heads is a multiple of
// num_kv_heads. Backends call it in allocate_kv_cache() and add their own limits.
void check_kv_cache_layout(const KvCacheLayout& layout);

// Memory of the device a backend computes on, for sizing the KV cache from what is left.
struct DeviceMemory {
  std::int64_t free_bytes = 0;
  std::int64_t total_bytes = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  virtual DType compute_dtype() const = 0;

  // --- memory ---------------------------------------------------------------------------------
  // Uninitialised storage for `shape`. Besides the compute dtype every backend stores kF32, which
  // linear() may write (logits keep fp32 precision whatever the weights are).
  virtual Tensor empty(std::vector<std::int64_t> shape, DType dtype) = 0;
  Tensor empty(std::vector<std::int64_t> shape) { return empty(std::move(shape), compute_dtype()); }
  // Copies fp32 host data (row-major, `shape`) into backend memory in the compute dtype.
  virtual Tensor upload(std::span<const float> host, std::vector<std::int64_t> shape) = 0;
  // Waits for the ops before it, then copies `tensor` (any dtype) to the host as fp32.
  virtual void download(const Tensor& tensor, std::span<float> host) = 0;
  // Free and total memory of the device, or nullopt for host memory (the CPU backend), whose KV
  // cache is sized by --kv-cache-memory instead.
  virtual std::optional<DeviceMemory> device_memory() const { return std::nullopt; }
  virtual void allocate_kv_cache(const KvCacheLayout& layout) = 0;
  virtual const KvCacheLayout& kv_cache_layout() const = 0;

  // --- one step -------------------------------------------------------------------------------
  // Makes `batch` current for the ops below (uploads ids, positions, slots and block tables);
  // `batch` must stay alive until the step's last op.
  virtual void begin_step(const Batch& batch) = 0;

  // out[t] = table[input_ids[t]] (+ positions_table[positions[t]] when given)
  virtual void embed(const Tensor& table, const Tensor* positions_table, Tensor& out) = 0;
  // out = norm(x) * weight (+ bias)
  virtual void norm(NormType type, const Tensor& x, const Tensor& weight, const Tensor* bias,
                    float eps, Tensor& out) = 0;
  // residual += x; out = norm(residual) * weight (+ bias). Fused so the residual is read once.
  virtual void add_norm(NormType type, Tensor& residual, const Tensor& x, const Tensor& weight,
                        const Tensor* bias, float eps, Tensor& out) = 0;
  virtual void add(Tensor& x, const Tensor& y) = 0;
  // out[T, out] = x[T, in] . weight[out, in]^T (+ bias[out]); out in the compute dtype or kF32
  virtual void linear(const Tensor& x, const Tensor& weight, const Tensor* bias, Tensor& out) = 0;

  // qkv is [T, (num_heads + 2 num_kv_heads) head_dim]: q heads, then k heads, then v heads.
  // Rotates q and k in place (rotate-half, as HF's apply_rotary_pos_emb) at the batch positions.
  virtual void rotary(Tensor& qkv, float theta) = 0;
  // Stores the k and v parts of qkv at the batch's slot_mapping in layer `layer` of the cache.
  virtual void write_kv(std::int32_t layer, const Tensor& qkv) = 0;
  // Causal attention of each new token over its sequence's context (positions up to its own),
  // K/V read from the paged cache. out is [T, num_heads * head_dim].
  virtual void paged_attention(std::int32_t layer, const Tensor& qkv, float scale, Tensor& out) = 0;

  virtual void gelu_new(Tensor& x) = 0;  // in place, tanh approximation (GPT-2's gelu_new)
  // gate_up is [T, 2I] (gate, then up); out[T, I] = silu(gate) * up
  virtual void silu_mul(const Tensor& gate_up, Tensor& out) = 0;
  // out[r] = x[batch.logits_rows[r]]
  virtual void gather_rows(const Tensor& x, Tensor& out) = 0;

  // --- recorded steps (optional) -------------------------------------------------------------
  // Sizes the step's own buffers for steps of up to max_tokens tokens, max_seqs sequences and
  // contexts up to max_context tokens, so that such steps reuse the same memory.
  virtual void reserve_steps(std::int32_t max_tokens, std::int32_t max_seqs,
                             std::int32_t max_context);
  // The ops of one step recorded once and replayed over later steps of the same shape (CUDA
  // graphs): the launch overhead of a decode step is paid once.
  class Recording {
   public:
    virtual ~Recording() = default;
  };
  virtual bool can_record() const { return false; }
  // After begin_step(): the ops up to end_recording() are recorded, not run. A recording assumes
  // the longest context reserve_steps() allowed. Throws unless can_record().
  virtual void begin_recording();
  virtual std::unique_ptr<Recording> end_recording();
  // After begin_step() with a batch of the recorded shape (tokens, sequences, logits rows): runs
  // the recorded ops over it. False, running nothing, when the buffers it used have moved since.
  virtual bool replay(const Recording& recording);

  // --- sampling where the logits are (optional) -------------------------------------------------
  virtual bool samples_on_device() const { return false; }
  // Samples logits row rows[i].logits_row of `logits` [R, vocab] (fp32, as linear() wrote it)
  // under rows[i] into out[i]; only the results cross to the host. Waits for the step. Throws
  // unless samples_on_device().
  virtual void sample(const Tensor& logits, std::span<const SamplingRow> rows,
                      std::span<SampledToken> out);
};

}  // namespace llmserve::backend
