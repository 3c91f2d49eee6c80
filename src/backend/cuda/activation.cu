#include "kernels/activation.cuh"
#include "dispatch.cuh"
#include "launchers.h"

namespace llmserve::backend::cuda {

cudaError_t launch_gelu_new(DType dtype, void* x, std::int64_t n, cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    kernels::gelu_new_kernel<<<blocks_for(n), 256, 0, stream>>>(static_cast<T*>(x), n);
  });
  return cudaGetLastError();
}

cudaError_t launch_silu_mul(DType dtype, const void* gate_up, std::int64_t rows,
                            std::int64_t inner, void* out, cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    kernels::silu_mul_kernel<<<blocks_for(rows * inner), 256, 0, stream>>>(
        static_cast<const T*>(gate_up), rows, inner, static_cast<T*>(out));
  });
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
