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

TEST(CudaDevice, AutoFallsBackToCpuUntilTheCudaBackendExists) {
  EXPECT_EQ(make_backend("auto")->name(), "cpu");
  EXPECT_THROW(make_backend("cuda"), Error);
  EXPECT_THROW(make_backend("tpu"), Error);
}

}  // namespace
}  // namespace llmserve::backend
