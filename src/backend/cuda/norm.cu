#include "kernels/norm.cuh"
#include "dispatch.cuh"
#include "launchers.h"

namespace llmserve::backend::cuda {

cudaError_t launch_add_norm(DType dtype, bool layer_norm, const void* x, const void* add,
                            void* residual, const void* weight, const void* bias, float eps,
                            std::int64_t rows, std::int64_t cols, void* out, cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    const auto kernel = layer_norm ? kernels::add_norm_kernel<T, true>
                                   : kernels::add_norm_kernel<T, false>;
    kernel<<<static_cast<unsigned>(rows), threads_for_row(cols), 0, stream>>>(
        static_cast<const T*>(x), static_cast<const T*>(add), static_cast<T*>(residual),
        static_cast<const T*>(weight), static_cast<const T*>(bias), eps, cols,
        static_cast<T*>(out));
  });
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
