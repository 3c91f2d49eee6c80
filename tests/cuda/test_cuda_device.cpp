// CUDA device discovery, the backend factory's --device / --dtype rules and the CUDA backend's
// memory basics. What needs a device skips cleanly without one (CI, the dev machine); the rules
// that need none run everywhere.
#include <gtest/gtest.h>

#include <vector>

#include "llmserve/backend/backend_factory.h"
#include "llmserve/backend/cuda_backend.h"
#include "llmserve/backend/cuda_device.h"
#include "llmserve/common/error.h"

namespace llmserve::backend {
namespace {

TEST(CudaDevice, DiscoveryAgreesWithFactory) {
  EXPECT_EQ(cuda::device_count(), cuda_device_count());
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device present";
  for (int d = 0; d < cuda::device_count(); ++d) EXPECT_FALSE(cuda::device_name(d).empty());
}

// kv-plan's --gpu-memory-utilization budget.
TEST(CudaDevice, TotalMemory) {
  EXPECT_EQ(cuda_device_total_memory(-1), std::nullopt);
  EXPECT_EQ(cuda_device_total_memory(cuda::device_count()), std::nullopt);
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device present";
  const auto total = cuda::device_total_memory(0);
  ASSERT_TRUE(total.has_value());
  EXPECT_GT(*total, std::size_t{1} << 30);
  EXPECT_EQ(cuda_device_total_memory(0), static_cast<std::int64_t>(*total));
}

// --device / --dtype rules that hold on any machine: bad names, the CPU's float32 only, and
// float32 choosing the CPU even under "auto".
TEST(BackendFactory, RulesThatNeedNoDevice) {
  EXPECT_THROW(make_backend("tpu"), Error);
  EXPECT_THROW(make_backend("CUDA"), Error);
  EXPECT_THROW(make_backend("cpu", "float64"), Error);
  EXPECT_THROW(make_backend("auto", "bf16"), Error);
  EXPECT_THROW(make_backend("cuda", ""), Error);
  EXPECT_THROW(make_backend("cpu", "bfloat16"), Error);
  EXPECT_THROW(make_backend("cpu", "float16"), Error);
  for (const auto* dtype : {"auto", "float32"}) {
    const auto cpu = make_backend("cpu", dtype);
    EXPECT_EQ(cpu->name(), "cpu");
    EXPECT_EQ(cpu->compute_dtype(), DType::kF32);
    EXPECT_FALSE(cpu->device_memory().has_value());
  }
  EXPECT_EQ(make_backend("auto", "float32")->name(), "cpu");
}

TEST(BackendFactory, AutoIsCpuWithoutADevice) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_EQ(make_backend("auto")->name(), "cpu");
  EXPECT_THROW(make_backend("cuda"), Error);
  EXPECT_THROW(make_backend("cuda", "bfloat16"), Error);
  EXPECT_THROW(make_backend("cuda", "float16"), Error);
  // "auto" falls back to the CPU, which has no bfloat16 or float16.
  EXPECT_THROW(make_backend("auto", "bfloat16"), Error);
  EXPECT_THROW(make_backend("auto", "float16"), Error);
}

TEST(BackendFactory, AutoIsCudaWithADevice) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device present";
  const auto automatic = make_backend("auto");
  EXPECT_EQ(automatic->name(), "cuda");
  EXPECT_EQ(automatic->compute_dtype(), DType::kBF16);
  EXPECT_EQ(make_backend("cuda")->compute_dtype(), DType::kBF16);
  EXPECT_EQ(make_backend("cuda", "bfloat16")->compute_dtype(), DType::kBF16);
  EXPECT_EQ(make_backend("cuda", "float16")->compute_dtype(), DType::kF16);
  const auto half = make_backend("auto", "float16");
  EXPECT_EQ(half->name(), "cuda");
  EXPECT_EQ(half->compute_dtype(), DType::kF16);
  EXPECT_THROW(make_backend("cuda", "float32"), Error);

  const auto memory = automatic->device_memory();
  ASSERT_TRUE(memory.has_value());
  EXPECT_GT(memory->total_bytes, std::int64_t{1} << 30);
  EXPECT_GT(memory->free_bytes, 0);
  EXPECT_LE(memory->free_bytes, memory->total_bytes);
  // The device properties' total (kv-plan's) and cudaMemGetInfo's may differ by reserved memory.
  const auto properties_total = cuda_device_total_memory(0);
  ASSERT_TRUE(properties_total.has_value());
  EXPECT_NEAR(static_cast<double>(*properties_total), static_cast<double>(memory->total_bytes),
              0.05 * static_cast<double>(memory->total_bytes));
}

TEST(CudaBackend, RejectsWhatItCannotCompute) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device present";
  EXPECT_THROW(make_cuda_backend(0, DType::kF32), Error);
  EXPECT_THROW(make_cuda_backend(cuda_device_count(), DType::kBF16), Error);
  EXPECT_THROW(make_cuda_backend(-1, DType::kBF16), Error);
  const auto backend = make_cuda_backend(0, DType::kBF16);
  EXPECT_EQ(backend->name(), "cuda");
  // Besides the compute dtype only fp32 (linear's logits) is stored.
  EXPECT_THROW(backend->empty({2, 2}, DType::kF16), Error);
  EXPECT_EQ(backend->empty({2, 3}, DType::kF32).dtype(), DType::kF32);
  EXPECT_EQ(backend->empty({2, 3}).dtype(), DType::kBF16);
  // upload rounds to bf16 (nearest even) and download gives it back as fp32.
  const std::vector<float> host = {1.0f, 1.00390625f, 1.01171875f, -3.5f, 0.0f, 65536.0f};
  const Tensor t = backend->upload(host, {2, 3});
  EXPECT_EQ(t.dtype(), DType::kBF16);
  std::vector<float> back(host.size());
  backend->download(t, back);
  EXPECT_EQ(back, (std::vector<float>{1.0f, 1.0f, 1.015625f, -3.5f, 0.0f, 65536.0f}));
  EXPECT_THROW(backend->upload(host, {4, 2}), Error);
  std::vector<float> too_small(5);
  EXPECT_THROW(backend->download(t, too_small), Error);
  // Ops before a KV cache exists are an error, not a crash.
  Batch batch;
  EXPECT_THROW(backend->begin_step(batch), Error);
}

}  // namespace
}  // namespace llmserve::backend
