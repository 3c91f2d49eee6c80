#pragma once
// Owning handles for device and pinned host memory. Every allocation goes through here so that
// running out says what was asked for, for what, and how much the device had free.
#include <cstddef>
#include <memory>
#include <string_view>

namespace llmserve::backend::cuda {

// cudaMalloc'd memory freed with the last reference. Throws llmserve::Error when it does not fit:
// "out of memory allocating 1.50 GiB for the KV cache: 0.80 GiB free of 79.10 GiB".
std::shared_ptr<void> allocate_device(std::size_t bytes, std::string_view what);

// A page-locked host buffer that grows (never shrinks) to the largest size asked for; async
// copies from it overlap with the host. Not copyable.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer();

  // At least `bytes` of storage; the contents are lost when it grows.
  std::byte* reserve(std::size_t bytes);
  std::byte* data() const { return data_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace llmserve::backend::cuda
