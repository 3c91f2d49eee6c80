#include <nlohmann/json.hpp>

#include "llmserve/common/error.h"
#include "llmserve/model/safetensors.h"

namespace llmserve::model {

namespace fs = std::filesystem;

Checkpoint Checkpoint::open(const fs::path& dir) {
  Checkpoint checkpoint;
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    const auto text = read_text_file(index);
    auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object() || !json.contains("weight_map") ||
        !json["weight_map"].is_object()) {
      throw Error("{}: expected an object with a \"weight_map\"", index.string());
    }
    std::map<std::string, std::vector<std::string>> expected;  // shard file -> tensor names
    for (const auto& [name, file] : json["weight_map"].items()) {
      if (!file.is_string())
        throw Error("{}: weight_map[\"{}\"] is not a string", index.string(), name);
      const auto shard = file.get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "..") {
        throw Error("{}: weight_map[\"{}\"] names an invalid shard \"{}\"", index.string(), name,
                    shard);
      }
      expected[shard].push_back(name);
    }
    for (const auto& [shard, names] : expected) {
      checkpoint.add_shard(dir / shard);
      for (const auto& name : names) {
        auto it = checkpoint.index_.find(name);
        if (it == checkpoint.index_.end() ||
            it->second.first->file.path().filename() != fs::path(shard)) {
          throw Error("{}: tensor \"{}\" is listed in {} but missing from it", index.string(), name,
                      shard);
        }
      }
    }
  } else if (fs::exists(single)) {
    checkpoint.add_shard(single);
  } else {
    throw Error("no weights in {}: expected model.safetensors or model.safetensors.index.json",
                dir.string());
  }
  return checkpoint;
}

void Checkpoint::add_shard(const fs::path& path) {
  auto shard = std::make_unique<Shard>();
  shard->file = MappedFile(path);
  shard->header = parse_safetensors_header(shard->file.bytes(), path.string());
  for (const auto& info : shard->header.tensors) {
    auto [it, inserted] = index_.try_emplace(info.name, shard.get(), &info);
    if (!inserted) {
      throw Error("tensor \"{}\" appears in both {} and {}", info.name,
                  it->second.first->file.path().string(), path.string());
    }
  }
  shards_.push_back(std::move(shard));
}

std::optional<TensorView> Checkpoint::find(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  const auto& [shard, info] = it->second;
  return TensorView{info, shard->file.bytes().data() + shard->header.data_start + info->data_offset,
                    shard->file.path().native()};
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(index_.size());
  for (const auto& [name, _] : index_) names.push_back(name);
  return names;
}

}  // namespace llmserve::model
