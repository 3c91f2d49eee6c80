#include <charconv>
#include <nlohmann/json.hpp>

#include "llmserve/common/error.h"
#include "spec_json.h"
#include "tokenizer_spec.h"

namespace llmserve::tokenizer {
namespace {

using nlohmann::json;

// added_tokens_decoder is keyed by the id, written as a decimal string.
TokenId id_from_key(const std::string& key, const std::filesystem::path& file) {
  long long value = -1;
  const char* end = key.data() + key.size();
  const auto result = std::from_chars(key.data(), end, value);
  if (result.ec != std::errc() || result.ptr != end) {
    throw Error("{}: added_tokens_decoder key \"{}\" is not a token id", file.string(), key);
  }
  return token_id_from_json(json(value), file);
}

}  // namespace

TokenizerConfig read_tokenizer_config(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "tokenizer_config.json";
  TokenizerConfig config;
  if (!std::filesystem::exists(file)) return config;
  const json root = read_json_file(file);
  try {
    if (const auto decoder = root.find("added_tokens_decoder"); decoder != root.end()) {
      for (const auto& [key, token] : decoder->items()) {
        config.added_tokens.push_back({id_from_key(key, file), added_token_from_json(token, true)});
      }
    }
    for (const std::string_view name : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
      const auto it = root.find(name);
      if (it == root.end() || it->is_null()) continue;
      config.special_tokens.push_back(added_token_from_json(*it, true));
      if (name == "eos_token") config.eos_token = config.special_tokens.back().content;
    }
    if (const auto extra = root.find("additional_special_tokens"); extra != root.end()) {
      for (const json& token : *extra) {
        config.special_tokens.push_back(added_token_from_json(token, true));
      }
    }
  } catch (const json::exception& e) {
    throw Error("{}: {}", file.string(), e.what());
  }
  return config;
}

}  // namespace llmserve::tokenizer
