#include "kernels/kv_cache.cuh"
#include "dispatch.cuh"
#include "launchers.h"

namespace llmserve::backend::cuda {

cudaError_t launch_write_kv(DType dtype, const void* qkv, const std::int64_t* slot_mapping,
                            std::int32_t tokens, std::int64_t row_width, std::int64_t q_width,
                            std::int64_t kv_width, void* k_cache, void* v_cache,
                            cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    kernels::write_kv_kernel<<<tokens, threads_for_row(kv_width), 0, stream>>>(
        static_cast<const T*>(qkv), slot_mapping, row_width, q_width, kv_width,
        static_cast<T*>(k_cache), static_cast<T*>(v_cache));
  });
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
