#include "llmserve/model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "llmserve/common/error.h"

namespace llmserve::model {
namespace {

using nlohmann::json;

// A header beyond this is not a checkpoint we want to parse (real ones are a few MB at most).
constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t{100} << 20;

std::uint64_t read_u64_le(const std::byte* p) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<std::uint8_t>(p[i]);
  return value;
}

std::uint64_t read_offset(const json& value, std::string_view source, const std::string& name) {
  if (!value.is_number_unsigned()) {
    throw Error("{}: tensor \"{}\": data_offsets must be non-negative integers", source, name);
  }
  return value.get<std::uint64_t>();
}

TensorInfo parse_entry(const std::string& name, const json& entry, std::uint64_t data_bytes,
                       std::string_view source) {
  if (name.empty()) throw Error("{}: a tensor has an empty name", source);
  if (!entry.is_object()) throw Error("{}: tensor \"{}\": expected an object", source, name);
  TensorInfo info;
  info.name = name;

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    throw Error("{}: tensor \"{}\": missing \"dtype\"", source, name);
  }
  const auto dtype = dtype_from_safetensors(dtype_it->get<std::string>());
  if (!dtype) {
    throw Error("{}: tensor \"{}\": unsupported dtype {} (supported: F32, F16, BF16)", source, name,
                dtype_it->dump());
  }
  info.dtype = *dtype;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    throw Error("{}: tensor \"{}\": missing \"shape\"", source, name);
  }
  // Elements counted with an overflow check: a hostile shape must not wrap to a small size.
  std::uint64_t elements = 1;
  for (const json& dim : *shape_it) {
    if (!dim.is_number_unsigned()) {
      throw Error("{}: tensor \"{}\": shape must hold non-negative integers, got {}", source, name,
                  shape_it->dump());
    }
    const auto d = dim.get<std::uint64_t>();
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
        (d != 0 && elements > std::numeric_limits<std::uint64_t>::max() / 8 / d)) {
      throw Error("{}: tensor \"{}\": shape {} is too large", source, name, shape_it->dump());
    }
    elements *= d;
    info.shape.push_back(static_cast<std::int64_t>(d));
  }

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
    throw Error("{}: tensor \"{}\": data_offsets must be [begin, end]", source, name);
  }
  const std::uint64_t begin = read_offset((*offsets_it)[0], source, name);
  const std::uint64_t end = read_offset((*offsets_it)[1], source, name);
  if (begin > end || end > data_bytes) {
    throw Error("{}: tensor \"{}\": data_offsets [{}, {}] outside the data section of {} bytes",
                source, name, begin, end, data_bytes);
  }
  const std::uint64_t expected = elements * dtype_size_bytes(info.dtype);
  if (end - begin != expected) {
    throw Error("{}: tensor \"{}\": shape {} x {} needs {} bytes but data_offsets span {}", source,
                name, shape_it->dump(), dtype_name(info.dtype), expected, end - begin);
  }
  info.data_offset = static_cast<std::size_t>(begin);
  info.num_bytes = static_cast<std::size_t>(end - begin);
  return info;
}

}  // namespace

std::int64_t TensorInfo::num_elements() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file,
                                           std::string_view source) {
  if (file.size() < 8) {
    throw Error("{}: truncated safetensors file ({} bytes, the header length alone needs 8)",
                source, file.size());
  }
  const std::uint64_t header_bytes = read_u64_le(file.data());
  if (header_bytes > kMaxHeaderBytes || header_bytes > file.size() - 8) {
    throw Error("{}: header length {} exceeds the file ({} bytes): truncated or not safetensors",
                source, header_bytes, file.size());
  }
  const auto* header_begin = reinterpret_cast<const char*>(file.data() + 8);
  json header = json::parse(header_begin, header_begin + header_bytes, nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    throw Error("{}: header is not a JSON object", source);
  }
  const std::uint64_t data_bytes = file.size() - 8 - header_bytes;

  SafetensorsHeader parsed;
  parsed.data_start = 8 + static_cast<std::size_t>(header_bytes);
  auto& tensors = parsed.tensors;
  tensors.reserve(header.size());
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error("{}: __metadata__ must be an object", source);
      continue;
    }
    tensors.push_back(parse_entry(name, entry, data_bytes, source));
  }

  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors.size());
  for (const auto& t : tensors) by_offset.push_back(&t);
  // Ties broken by size, so an empty tensor at the same offset as another sorts first and is not
  // mistaken for an overlap.
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return std::pair(a->data_offset, a->num_bytes) < std::pair(b->data_offset, b->num_bytes);
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& prev = *by_offset[i - 1];
    if (by_offset[i]->data_offset < prev.data_offset + prev.num_bytes) {
      throw Error("{}: tensors \"{}\" and \"{}\" overlap in the data section", source, prev.name,
                  by_offset[i]->name);
    }
  }
  return parsed;
}

}  // namespace llmserve::model
