#include "kernels/convert.cuh"
#include "dispatch.cuh"
#include "launchers.h"

namespace llmserve::backend::cuda {

cudaError_t launch_convert(DType from, const void* src, DType to, void* dst, std::int64_t n,
                           cudaStream_t stream) {
  dispatch_dtype(from, [&]<typename From>(std::type_identity<From>) {
    dispatch_dtype(to, [&]<typename To>(std::type_identity<To>) {
      kernels::convert_kernel<<<blocks_for(n), 256, 0, stream>>>(static_cast<const From*>(src), n,
                                                                 static_cast<To*>(dst));
    });
  });
  return cudaGetLastError();
}

}  // namespace llmserve::backend::cuda
