#include "kernels/rows.cuh"
#include "dispatch.cuh"
#include "launchers.h"

namespace llmserve::backend::cuda {

cudaError_t launch_add(DType dtype, void* x, const void* y, std::int64_t n, cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    kernels::add_kernel<<<blocks_for(n), 256, 0, stream>>>(static_cast<T*>(x),
                                                           static_cast<const T*>(y), n);
  });
  return cudaGetLastError();
}

cudaError_t launch_broadcast_rows(DType dtype, const void* bias, DType out_dtype,
                                  std::int64_t rows, std::int64_t cols, void* out,
                                  cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    dispatch_dtype(out_dtype, [&]<typename Out>(std::type_identity<Out>) {
      kernels::broadcast_rows_kernel<<<static_cast<unsigned>(rows), threads_for_row(cols), 0,
                                       stream>>>(static_cast<const T*>(bias), cols,
                                                 static_cast<Out*>(out));
    });
  });
  return cudaGetLastError();
}

cudaError_t launch_gather_rows(DType dtype, const void* x, const std::int32_t* rows,
                               std::int32_t num_rows, std::int64_t cols, void* out,
                               cudaStream_t stream) {
  dispatch_compute_dtype(dtype, [&]<typename T>(std::type_identity<T>) {
    kernels::gather_rows_kernel<<<num_rows, threads_for_row(cols), 0, stream>>>(
        static_cast<const T*>(x), rows, cols, static_cast<T*>(out));
  });
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
