#include <algorithm>
#include <stdexcept>
#include <string>

#include "dispatch.cuh"
#include "kernels/decode_attention.cuh"
#include "kernels/prefill_attention.cuh"
#include "launchers.h"

namespace llmserve::backend::cuda {
namespace {

kernels::PagedAttentionParams params_of(const AttentionArgs& args) {
  kernels::PagedAttentionParams p;
  p.positions = args.positions;
  p.seq_of_token = args.seq_of_token;
  p.query_start = args.query_start;
  p.block_tables = args.block_tables;
  p.table_stride = args.table_stride;
  p.block_size = args.block_size;
  p.num_heads = args.num_heads;
  p.num_kv_heads = args.num_kv_heads;
  p.head_dim = args.head_dim;
  p.scale = args.scale;
  return p;
}

// The fast path loads 16 bytes (8 elements) per lane; head dims that are not a multiple of 8
// take 2 elements per load, several loads per lane past 64.
constexpr int kFastVec = 8;
bool fast_path(std::int32_t head_dim) { return head_dim % kFastVec == 0; }

// Query heads per block: a GQA group at once (up to 8), so each K/V row is read once per group.
int heads_per_block(const AttentionArgs& args) {
  if (!fast_path(args.head_dim)) return 8;
  const int group = args.num_heads / args.num_kv_heads;
  return group >= 8 ? 8 : group > 2 ? 4 + 4 * (group > 4) : group;
}

int ceil_div(std::int64_t a, std::int64_t b) { return static_cast<int>((a + b - 1) / b); }

int next_power_of_two(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

template <typename T, int kVec, int kVecsPerLane, int kHeads>
void decode(const void* qkv, const void* k_cache, const void* v_cache, const AttentionArgs& args,
            const std::int32_t* token_rows, std::int32_t tokens, DecodeSplit split,
            float* workspace, void* out, cudaStream_t stream) {
  const int group = args.num_heads / args.num_kv_heads;
  const dim3 grid(static_cast<unsigned>(tokens),
                  static_cast<unsigned>(args.num_kv_heads * ceil_div(group, kHeads)),
                  static_cast<unsigned>(split.splits));
  kernels::DecodeWork work;
  work.tokens = token_rows;
  work.keys_per_split = split.keys_per_split;
  work.lanes = next_power_of_two(ceil_div(args.head_dim, kVec * kVecsPerLane));
  if (split.splits > 1) {
    const std::int64_t partials = std::int64_t{tokens} * args.num_heads * split.splits;
    work.split_acc = workspace;
    work.split_max = workspace + partials * args.head_dim;
    work.split_sum = work.split_max + partials;
  }
  const auto p = params_of(args);
  kernels::decode_attention_kernel<T, kVec, kVecsPerLane, kHeads>
      <<<grid, kernels::kDecodeWarps * 32, 0, stream>>>(static_cast<const T*>(qkv),
                                                       static_cast<const T*>(k_cache),
                                                       static_cast<const T*>(v_cache), p, work,
                                                       static_cast<T*>(out));
  if (split.splits > 1) {
    const dim3 reduce_grid(static_cast<unsigned>(tokens), static_cast<unsigned>(args.num_heads));
    kernels::decode_attention_reduce<T><<<reduce_grid, 128, 0, stream>>>(p, work, split.splits,
                                                                        static_cast<T*>(out));
  }
}

template <typename T, int kHeadDim>
void prefill(const void* qkv, const void* k_cache, const void* v_cache, const AttentionArgs& args,
             const std::int32_t* tile_seq, const std::int32_t* tile_first_query,
             std::int32_t num_tiles, void* out, cudaStream_t stream) {
  constexpr auto smem = kernels::prefill_attention_smem_bytes<T, kHeadDim>();
  const auto kernel = kernels::prefill_attention_kernel<T, kHeadDim>;
  // Past 48 KiB a kernel must opt in to dynamic shared memory; once per instantiation.
  static const cudaError_t opt_in = cudaFuncSetAttribute(
      kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (opt_in != cudaSuccess) throw std::runtime_error(
      std::string("prefill attention: no opt-in to the shared memory it needs: ") +
      cudaGetErrorString(opt_in));
  const dim3 grid(static_cast<unsigned>(num_tiles), static_cast<unsigned>(args.num_heads));
  kernel<<<grid, kernels::kPrefillWarps * 32, smem, stream>>>(
      static_cast<const T*>(qkv), static_cast<const T*>(k_cache), static_cast<const T*>(v_cache),
      params_of(args), tile_seq, tile_first_query, static_cast<T*>(out));
}

}  // namespace

DecodeSplit plan_decode_split(const AttentionArgs& args, std::int32_t tokens,
                              std::int32_t max_context, std::int32_t num_sms) {
  const std::int64_t blocks = std::int64_t{tokens} * args.num_kv_heads *
                              ceil_div(args.num_heads / args.num_kv_heads, heads_per_block(args));
  const int chunks = ceil_div(std::max(max_context, 1), kernels::kDecodeChunk);
  const int wanted = ceil_div(2 * std::int64_t{num_sms}, std::max<std::int64_t>(blocks, 1));
  const int splits = std::clamp(wanted, 1, chunks);
  DecodeSplit split;
  split.keys_per_split = ceil_div(chunks, splits) * kernels::kDecodeChunk;
  split.splits = ceil_div(std::max(max_context, 1), split.keys_per_split);
  return split;
}

std::int64_t decode_split_workspace_floats(const AttentionArgs& args, std::int32_t tokens,
                                           DecodeSplit split) {
  if (split.splits <= 1) return 0;
  return std::int64_t{tokens} * args.num_heads * split.splits * (args.head_dim + 2);
}

cudaError_t launch_decode_attention(DType dtype, const void* qkv, const void* k_cache,
                                    const void* v_cache, const AttentionArgs& args,
                                    const std::int32_t* token_rows, std::int32_t tokens,
                                    DecodeSplit split, float* workspace, void* out,
                                    cudaStream_t stream) {
  if (tokens == 0) return cudaSuccess;
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    const auto run = [&]<int kVec, int kVecsPerLane, int kHeads>() {
      decode<T, kVec, kVecsPerLane, kHeads>(qkv, k_cache, v_cache, args, token_rows, tokens,
                                            split, workspace, out, stream);
    };
    if (fast_path(args.head_dim)) {
      switch (heads_per_block(args)) {
        case 1: run.template operator()<kFastVec, 1, 1>(); break;
        case 2: run.template operator()<kFastVec, 1, 2>(); break;
        case 4: run.template operator()<kFastVec, 1, 4>(); break;
        default: run.template operator()<kFastVec, 1, 8>(); break;
      }
    } else if (args.head_dim <= 64) {
      run.template operator()<2, 1, 8>();
    } else if (args.head_dim <= 128) {
      run.template operator()<2, 2, 8>();
    } else {
      run.template operator()<2, 4, 8>();
    }
  });
  return cudaGetLastError();
}

bool prefill_attention_supported(std::int32_t head_dim) {
  return head_dim == 16 || head_dim == 32 || head_dim == 64 || head_dim == 128 || head_dim == 256;
}

std::int32_t prefill_query_tile() { return kernels::kPrefillQueryTile; }

cudaError_t launch_prefill_attention(DType dtype, const void* qkv, const void* k_cache,
                                     const void* v_cache, const AttentionArgs& args,
                                     const std::int32_t* tile_seq,
                                     const std::int32_t* tile_first_query, std::int32_t num_tiles,
                                     void* out, cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    const auto run = [&]<int kHeadDim>() {
      prefill<T, kHeadDim>(qkv, k_cache, v_cache, args, tile_seq, tile_first_query, num_tiles,
                           out, stream);
    };
    switch (args.head_dim) {
      case 16: run.template operator()<16>(); break;
      case 32: run.template operator()<32>(); break;
      case 64: run.template operator()<64>(); break;
      case 128: run.template operator()<128>(); break;
      case 256: run.template operator()<256>(); break;
      default: throw std::invalid_argument("prefill attention: unsupported head_dim");
    }
  });
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
