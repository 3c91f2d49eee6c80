#pragma once
// The memory bandwidth the CUDA benchmarks compare against ("% of peak"), found once per process
// in main(): measured, as the bandwidth of a large device-to-device cudaMemcpy (bytes read plus
// bytes written over the time), and nominal, as the datasheet would compute it from the
// runtime's memory clock and bus width attributes. Also the L2 size, which the benchmarks outgrow
// so that their weights and KV cache stream from HBM as in a real step.
#include <cstdint>
#include <optional>
#include <string>

namespace llmserve::bench {

struct CudaBandwidth {
  std::string device_name;
  double measured_bytes_per_s = 0.0;  // best of several 1 GiB copies
  double nominal_bytes_per_s = 0.0;   // 0 when the runtime does not report clock or bus width
  std::int64_t l2_bytes = 0;
};

// nullopt (with `problem` saying why) when there is no usable CUDA device.
std::optional<CudaBandwidth> measure_cuda_bandwidth(int device, std::string& problem);

// Adds the numbers to Google Benchmark's context (the JSON's "context" object) and prints them.
void report_cuda_bandwidth(const CudaBandwidth& bandwidth);

}  // namespace llmserve::bench
