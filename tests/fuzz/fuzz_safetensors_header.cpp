// Any bytes as a whole safetensors file: the parser must accept or throw llmserve::Error, and an
// accepted header must only describe ranges inside the file.
#include <cstdint>
#include <cstdlib>

#include "llmserve/common/error.h"
#include "llmserve/model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto header = llmserve::model::parse_safetensors_header(file, "fuzz");
    for (const auto& t : header.tensors) {
      if (header.data_start + t.data_offset + t.num_bytes > size) std::abort();
    }
  } catch (const llmserve::Error&) {
  }
  return 0;
}
