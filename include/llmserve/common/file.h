#pragma once
// Whole-file reads and read-only memory maps. Both throw llmserve::Error naming the path.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

namespace llmserve {

std::string read_text_file(const std::filesystem::path& path);

// A read-only private mapping of a whole file; movable, unmapped on destruction.
class MappedFile {
 public:
  MappedFile() = default;  // maps nothing
  explicit MappedFile(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace llmserve
