#pragma once
// Host entry points of the kernels in kernels/, one per kernel family (a .cu file each beside this
// header): they pick the launch shape and the instantiation for `dtype` (kBF16 or kF16; kF32
// where said) and queue the kernel on `stream`. They check nothing the CudaBackend has already
// checked (shapes, ids, slots) and return the launch status (cudaGetLastError) for the caller to
// turn into an error. Pointers are device memory; shapes follow backend.h.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "llmserve/common/dtype.h"

namespace llmserve::backend::cuda {

// dst = src converted, n elements; from/to any of kF32, kBF16, kF16.
cudaError_t launch_convert(DType from, const void* src, DType to, void* dst, std::int64_t n,
                           cudaStream_t stream);

// out[t] = table[ids[t]] (+ positions_table[positions[t]]); positions_table may be null.
cudaError_t launch_embedding(DType dtype, const void* table, const void* positions_table,
                             const std::int32_t* ids, const std::int32_t* positions,
                             std::int32_t tokens, std::int64_t hidden, void* out,
                             cudaStream_t stream);

// add == nullptr: out = norm(x). Else residual = x + add (x and residual may be the same buffer),
// out = norm(residual). bias may be null (RMSNorm has none).
cudaError_t launch_add_norm(DType dtype, bool layer_norm, const void* x, const void* add,
                            void* residual, const void* weight, const void* bias, float eps,
                            std::int64_t rows, std::int64_t cols, void* out, cudaStream_t stream);

// Rotates the first rotated_heads heads of each of the `tokens` rows of qkv in place.
cudaError_t launch_rotary(DType dtype, void* qkv, const std::int32_t* positions,
                          std::int32_t tokens, std::int64_t row_width, std::int32_t rotated_heads,
                          std::int32_t head_dim, float theta, cudaStream_t stream);

cudaError_t launch_write_kv(DType dtype, const void* qkv, const std::int64_t* slot_mapping,
                            std::int32_t tokens, std::int64_t row_width, std::int64_t q_width,
                            std::int64_t kv_width, void* k_cache, void* v_cache,
                            cudaStream_t stream);

// Geometry and step arrays of paged attention (kernels/paged_attention.cuh spells out the layout).
struct AttentionArgs {
  const std::int32_t* positions = nullptr;     // [T]
  const std::int32_t* seq_of_token = nullptr;  // [T]
  const std::int32_t* query_start = nullptr;   // [B+1]
  const std::int32_t* block_tables = nullptr;  // [B][*table_stride]
  const std::int32_t* table_stride = nullptr;  // [1], device memory
  std::int32_t block_size = 0;
  std::int32_t num_heads = 0;
  std::int32_t num_kv_heads = 0;
  std::int32_t head_dim = 0;
  float scale = 0.0f;
};

// How a decode launch splits each context (split-K). One split writes the output directly; more
// leave partial results in a workspace that a reduction kernel merges.
struct DecodeSplit {
  std::int32_t splits = 1;
  std::int32_t keys_per_split = 0;
};

// Enough splits that `tokens` tokens whose contexts reach max_context give the num_sms SMs about
// two blocks each, in whole chunks of keys; a large batch gets one split. A CUDA graph recorded
// with the longest context the engine allows serves every shorter one (the extra splits exit).
DecodeSplit plan_decode_split(const AttentionArgs& args, std::int32_t tokens,
                              std::int32_t max_context, std::int32_t num_sms);
// Floats of workspace a launch of `tokens` tokens under `split` needs (0 for one split).
std::int64_t decode_split_workspace_floats(const AttentionArgs& args, std::int32_t tokens,
                                           DecodeSplit split);

// Decode kernel: each of `tokens` one-token queries (rows token_rows[i] of qkv and out, or rows
// 0..tokens-1 when token_rows is null) attends to its positions 0..own. Serves any even head_dim
// up to kMaxAttentionHeadDim, so it is also the prefill fallback. `workspace` holds at least
// decode_split_workspace_floats() floats.
inline constexpr std::int32_t kMaxAttentionHeadDim = 256;
cudaError_t launch_decode_attention(DType dtype, const void* qkv, const void* k_cache,
                                    const void* v_cache, const AttentionArgs& args,
                                    const std::int32_t* token_rows, std::int32_t tokens,
                                    DecodeSplit split, float* workspace, void* out,
                                    cudaStream_t stream);

// Tensor-core prefill kernel over the `num_tiles` query tiles (tile_seq, tile_first_query: device
// arrays built by prefill_tiles()); only for head dims where prefill_attention_supported().
bool prefill_attention_supported(std::int32_t head_dim);
std::int32_t prefill_query_tile();  // query rows per tile
cudaError_t launch_prefill_attention(DType dtype, const void* qkv, const void* k_cache,
                                     const void* v_cache, const AttentionArgs& args,
                                     const std::int32_t* tile_seq,
                                     const std::int32_t* tile_first_query, std::int32_t num_tiles,
                                     void* out, cudaStream_t stream);

cudaError_t launch_gelu_new(DType dtype, void* x, std::int64_t n, cudaStream_t stream);
cudaError_t launch_silu_mul(DType dtype, const void* gate_up, std::int64_t rows, std::int64_t inner,
                            void* out, cudaStream_t stream);

// x += y over n elements.
cudaError_t launch_add(DType dtype, void* x, const void* y, std::int64_t n, cudaStream_t stream);
// out[r] = bias for r < rows; bias in `dtype`, out in out_dtype (dtype or kF32).
cudaError_t launch_broadcast_rows(DType dtype, const void* bias, DType out_dtype, std::int64_t rows,
                                  std::int64_t cols, void* out, cudaStream_t stream);
// out[r] = x[rows[r]] for r < num_rows.
cudaError_t launch_gather_rows(DType dtype, const void* x, const std::int32_t* rows,
                               std::int32_t num_rows, std::int64_t cols, void* out,
                               cudaStream_t stream);

}  // namespace llmserve::backend::cuda
