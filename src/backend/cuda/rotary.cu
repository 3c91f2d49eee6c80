#include "kernels/rotary.cuh"
#include "dispatch.cuh"
#include "launchers.h"

namespace llmserve::backend::cuda {

cudaError_t launch_rotary(DType dtype, void* qkv, const std::int32_t* positions,
                          std::int32_t tokens, std::int64_t row_width, std::int32_t rotated_heads,
                          std::int32_t head_dim, float theta, cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    kernels::rotary_kernel<<<tokens, threads_for_row(std::int64_t{rotated_heads} * head_dim / 2),
                             0, stream>>>(static_cast<T*>(qkv), positions, row_width,
                                          rotated_heads, head_dim, theta);
  });
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
