#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "llmserve/common/dtype.h"

namespace llmserve {
namespace {

TEST(DType, Names) {
  EXPECT_EQ(dtype_from_safetensors("BF16"), DType::kBF16);
  EXPECT_EQ(dtype_from_safetensors("F16"), DType::kF16);
  EXPECT_EQ(dtype_from_safetensors("F32"), DType::kF32);
  EXPECT_FALSE(dtype_from_safetensors("F64").has_value());
  EXPECT_EQ(dtype_size_bytes(DType::kBF16), 2u);
}

TEST(DType, F16MatchesKnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x8000), -0.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
}

// Every finite half, decoded independently as sign * mantissa * 2^exponent.
TEST(DType, F16AllFiniteValues) {
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const std::uint32_t exponent = (bits >> 10) & 0x1f;
    if (exponent == 0x1f) continue;
    const std::uint32_t mantissa = bits & 0x3ff;
    const float magnitude =
        exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                      : std::ldexp(static_cast<float>(mantissa + 1024), int(exponent) - 25);
    const float expected = (bits & 0x8000) ? -magnitude : magnitude;
    ASSERT_EQ(f16_to_f32(static_cast<std::uint16_t>(bits)), expected) << bits;
  }
}

TEST(DType, Bf16IsTheHighHalfOfF32) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> dist(0.0f, 10.0f);
  for (int i = 0; i < 1000; ++i) {
    const float x = dist(rng);
    std::uint32_t bits;
    std::memcpy(&bits, &x, 4);
    const float truncated = bf16_to_f32(static_cast<std::uint16_t>(bits >> 16));
    EXPECT_LE(std::abs(truncated - x), std::abs(x) * (1.0f / 128.0f));
  }
}

TEST(DType, ConvertUnalignedBuffer) {
  alignas(4) std::byte raw[9];
  const float values[2] = {3.25f, -7.5f};
  std::memcpy(raw + 1, values, 8);
  float out[2];
  convert_to_f32(DType::kF32, raw + 1, 2, out);
  EXPECT_EQ(out[0], 3.25f);
  EXPECT_EQ(out[1], -7.5f);
}

}  // namespace
}  // namespace llmserve
