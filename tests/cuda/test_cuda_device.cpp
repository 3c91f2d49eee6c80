// CUDA device discovery; skips cleanly on machines without a device (CI, the dev machine).
#include <gtest/gtest.h>

#include "llmserve/backend/backend_factory.h"
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

TEST(CudaDevice, AutoFallsBackToCpuUntilTheCudaBackendExists) {
  EXPECT_EQ(make_backend("auto")->name(), "cpu");
  EXPECT_THROW(make_backend("cuda"), Error);
  EXPECT_THROW(make_backend("tpu"), Error);
}

}  // namespace
}  // namespace llmserve::backend
