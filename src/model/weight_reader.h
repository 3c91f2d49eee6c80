#pragma once
// Reads named checkpoint tensors as fp32 host arrays for the per-architecture weight mappings
// (gpt2.cpp, qwen2.cpp). Resolves the exporter prefixes and checks shapes, so each
// mapping states only the names and shapes its architecture defines.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmserve/backend/backend.h"
#include "llmserve/model/safetensors.h"

namespace llmserve::model {

class WeightReader {
 public:
  WeightReader(const Checkpoint& checkpoint, std::string model_dir, backend::Backend& backend)
      : checkpoint_(checkpoint), model_dir_(std::move(model_dir)), backend_(backend) {}

  // fp32 values of `name`, which must have exactly `shape`.
  std::vector<float> read(std::string_view name, const std::vector<std::int64_t>& shape) const;
  // Uploads `name` (shape checked) to the backend.
  backend::Tensor upload(std::string_view name, const std::vector<std::int64_t>& shape) const;
  // Uploads a Conv1D weight stored [in, out] as the [out, in] layout linear() expects.
  backend::Tensor upload_transposed(std::string_view name, std::int64_t in, std::int64_t out) const;
  // Uploads the row-wise concatenation of several tensors (fused q/k/v, gate/up).
  backend::Tensor upload_concat(const std::vector<std::string>& names,
                                const std::vector<std::vector<std::int64_t>>& shapes) const;

 private:
  TensorView resolve(std::string_view name) const;

  const Checkpoint& checkpoint_;
  std::string model_dir_;
  backend::Backend& backend_;
};

}  // namespace llmserve::model
