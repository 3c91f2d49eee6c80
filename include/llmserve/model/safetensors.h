#pragma once
// safetensors checkpoints: one file, or shards listed by model.safetensors.index.json. Files are
// mmapped; headers are validated completely before any tensor is handed out (JSON object, known
// dtype, shape x dtype size == byte range, ranges inside the data section, no overlaps). Every
// failure is an llmserve::Error naming the file and the tensor.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmserve/common/dtype.h"
#include "llmserve/common/file.h"

namespace llmserve::model {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;  // relative to the start of the data section
  std::size_t num_bytes = 0;

  std::int64_t num_elements() const;
};

struct SafetensorsHeader {
  std::size_t data_start = 0;  // byte offset of the data section in the file
  std::vector<TensorInfo> tensors;
};

// Parses and validates the header of a whole safetensors file held in `file`; `source` names it
// in errors. Pure function over bytes: this is what the fuzzer drives.
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file,
                                           std::string_view source);

// A view of one tensor inside a mapped file.
struct TensorView {
  const TensorInfo* info = nullptr;
  const std::byte* data = nullptr;
  std::string_view file;  // for error messages
};

// All tensors of a checkpoint directory (single file or shards), by name.
class Checkpoint {
 public:
  // Opens DIR/model.safetensors, or the shards named by DIR/model.safetensors.index.json.
  static Checkpoint open(const std::filesystem::path& dir);

  std::optional<TensorView> find(std::string_view name) const;
  std::vector<std::string> tensor_names() const;

 private:
  struct Shard {
    MappedFile file;
    SafetensorsHeader header;
  };
  void add_shard(const std::filesystem::path& path);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::map<std::string, std::pair<const Shard*, const TensorInfo*>, std::less<>> index_;
};

}  // namespace llmserve::model
