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
  p.max_blocks_per_seq = args.max_blocks_per_seq;
  p.block_size = args.block_size;
  p.num_heads = args.num_heads;
  p.num_kv_heads = args.num_kv_heads;
  p.head_dim = args.head_dim;
  p.scale = args.scale;
  return p;
}

template <typename T, int kDimsPerLane>
void decode(const void* qkv, const void* k_cache, const void* v_cache, const AttentionArgs& args,
            std::int32_t tokens, void* out, cudaStream_t stream) {
  const int group = args.num_heads / args.num_kv_heads;
  const dim3 grid(static_cast<unsigned>(tokens), static_cast<unsigned>(args.num_kv_heads),
                  static_cast<unsigned>((group + kernels::kDecodeHeadsPerBlock - 1) /
                                        kernels::kDecodeHeadsPerBlock));
  kernels::decode_attention_kernel<T, kDimsPerLane><<<grid, kernels::kDecodeWarps * 32, 0, stream>>>(
      static_cast<const T*>(qkv), static_cast<const T*>(k_cache), static_cast<const T*>(v_cache),
      params_of(args), static_cast<T*>(out));
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

cudaError_t launch_decode_attention(DType dtype, const void* qkv, const void* k_cache,
                                    const void* v_cache, const AttentionArgs& args,
                                    std::int32_t tokens, void* out, cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    if (args.head_dim <= 32) {
      decode<T, 1>(qkv, k_cache, v_cache, args, tokens, out, stream);
    } else if (args.head_dim <= 64) {
      decode<T, 2>(qkv, k_cache, v_cache, args, tokens, out, stream);
    } else if (args.head_dim <= 128) {
      decode<T, 4>(qkv, k_cache, v_cache, args, tokens, out, stream);
    } else {
      decode<T, 8>(qkv, k_cache, v_cache, args, tokens, out, stream);
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
