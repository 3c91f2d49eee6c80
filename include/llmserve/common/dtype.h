#pragma once
// Element types of checkpoint tensors and backend buffers, and the scalar conversions to fp32.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmserve {

enum class DType { kF32, kF16, kBF16 };

std::size_t dtype_size_bytes(DType dtype);
std::string_view dtype_name(DType dtype);  // safetensors spelling: "F32", "F16", "BF16"
std::optional<DType> dtype_from_safetensors(std::string_view name);

inline float bf16_to_f32(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

// IEEE half -> float, including subnormals, infinities and NaN.
float f16_to_f32(std::uint16_t bits);

// Converts `count` elements stored as `dtype` at `src` (any alignment) into fp32.
void convert_to_f32(DType dtype, const std::byte* src, std::size_t count, float* dst);

}  // namespace llmserve
