#include "cuda_bandwidth.h"

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "llmserve/backend/cuda_device.h"

namespace llmserve::bench {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(fmt::format("{}: {}", what, cudaGetErrorString(status)));
  }
}

int attribute(cudaDeviceAttr attr, int device) {
  int value = 0;
  return cudaDeviceGetAttribute(&value, attr, device) == cudaSuccess ? value : 0;
}

// What copy_bytes_per_s() holds, freed however it leaves.
struct CopyResources {
  void* src = nullptr;
  void* dst = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  ~CopyResources() {
    cudaFree(src);
    cudaFree(dst);
    if (stream != nullptr) cudaStreamDestroy(stream);
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
  }
};

// Best of ten 1 GiB copies after two warm-ups: large enough that L2 plays no part, and the best
// run is the ceiling a kernel could hope for.
double copy_bytes_per_s() {
  constexpr std::size_t kBytes = std::size_t{1} << 30;
  CopyResources r;
  check(cudaMalloc(&r.src, kBytes), "cudaMalloc");
  check(cudaMalloc(&r.dst, kBytes), "cudaMalloc");
  check(cudaStreamCreate(&r.stream), "cudaStreamCreate");
  check(cudaEventCreate(&r.start), "cudaEventCreate");
  check(cudaEventCreate(&r.stop), "cudaEventCreate");
  check(cudaMemsetAsync(r.src, 1, kBytes, r.stream), "cudaMemsetAsync");
  double best = 0.0;
  for (int i = 0; i < 12; ++i) {
    check(cudaEventRecord(r.start, r.stream), "cudaEventRecord");
    check(cudaMemcpyAsync(r.dst, r.src, kBytes, cudaMemcpyDeviceToDevice, r.stream),
          "cudaMemcpyAsync");
    check(cudaEventRecord(r.stop, r.stream), "cudaEventRecord");
    check(cudaEventSynchronize(r.stop), "cudaEventSynchronize");
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, r.start, r.stop), "cudaEventElapsedTime");
    if (i >= 2) best = std::max(best, 2.0 * kBytes / (ms * 1e-3));  // read + written
  }
  return best;
}

}  // namespace

std::optional<CudaBandwidth> measure_cuda_bandwidth(int device, std::string& problem) {
  if (backend::cuda::device_count() <= device) {
    problem = fmt::format("no CUDA device {}: {}", device, backend::cuda::device_count_problem());
    return std::nullopt;
  }
  try {
    check(cudaSetDevice(device), "cudaSetDevice");
    CudaBandwidth bw;
    bw.device_name = backend::cuda::device_name(device);
    // Memory clock in kHz; DDR and HBM move data on both clock edges, hence the 2.
    const double clock_hz = 1e3 * attribute(cudaDevAttrMemoryClockRate, device);
    const double bus_bytes = attribute(cudaDevAttrGlobalMemoryBusWidth, device) / 8.0;
    bw.nominal_bytes_per_s = 2.0 * clock_hz * bus_bytes;
    bw.l2_bytes = attribute(cudaDevAttrL2CacheSize, device);
    bw.measured_bytes_per_s = copy_bytes_per_s();
    return bw;
  } catch (const std::exception& e) {
    problem = e.what();
    return std::nullopt;
  }
}

void report_cuda_bandwidth(const CudaBandwidth& bw) {
  benchmark::AddCustomContext("cuda_device", bw.device_name);
  benchmark::AddCustomContext("cuda_copy_GBps",
                              fmt::format("{:.0f}", bw.measured_bytes_per_s / 1e9));
  benchmark::AddCustomContext("cuda_nominal_GBps",
                              bw.nominal_bytes_per_s > 0
                                  ? fmt::format("{:.0f}", bw.nominal_bytes_per_s / 1e9)
                                  : std::string("not reported by the runtime"));
  benchmark::AddCustomContext("cuda_l2_MiB", fmt::format("{:.1f}", bw.l2_bytes / 1048576.0));
}

}  // namespace llmserve::bench
