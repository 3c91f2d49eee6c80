#include "kernels/embedding.cuh"
#include "dispatch.cuh"
#include "launchers.h"

namespace llmserve::backend::cuda {

cudaError_t launch_embedding(DType dtype, const void* table, const void* positions_table,
                             const std::int32_t* ids, const std::int32_t* positions,
                             std::int32_t tokens, std::int64_t hidden, void* out,
                             cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    kernels::embedding_kernel<<<tokens, threads_for_row(hidden), 0, stream>>>(
        static_cast<const T*>(table), static_cast<const T*>(positions_table), ids, positions,
        hidden, static_cast<T*>(out));
  });
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
