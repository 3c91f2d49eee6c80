#pragma once
// A backend buffer with a shape. Storage is shared and owned by the backend that made it (host
// memory for the CPU backend, device memory for CUDA); a Tensor is a cheap handle. Activations are
// 2-D [rows, cols]; view_rows() gives the first rows of a larger workspace without copying, so a
// step never allocates once its workspace is large enough.
#include <cassert>
#include <cstdint>
#include <memory>
#include <vector>

#include "llmserve/common/dtype.h"

namespace llmserve::backend {

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<void> storage, DType dtype, std::vector<std::int64_t> shape)
      : storage_(std::move(storage)), dtype_(dtype), shape_(std::move(shape)) {}

  void* data() const { return storage_.get(); }
  template <typename T>
  T* data_as() const {
    return static_cast<T*>(storage_.get());
  }
  DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t dim(std::size_t i) const { return shape_.at(i); }
  std::int64_t num_elements() const {
    std::int64_t n = 1;
    for (auto d : shape_) n *= d;
    return n;
  }
  bool defined() const { return storage_ != nullptr; }

  // The first `rows` rows of a 2-D tensor, sharing storage.
  Tensor view_rows(std::int64_t rows) const {
    assert(shape_.size() == 2 && rows <= shape_[0]);
    return Tensor(storage_, dtype_, {rows, shape_[1]});
  }

 private:
  std::shared_ptr<void> storage_;
  DType dtype_ = DType::kF32;
  std::vector<std::int64_t> shape_;
};

}  // namespace llmserve::backend
