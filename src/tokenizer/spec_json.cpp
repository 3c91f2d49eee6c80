#include "spec_json.h"

#include "llmserve/common/error.h"
#include "llmserve/common/file.h"

namespace llmserve::tokenizer {

using nlohmann::json;

json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error("{}: malformed JSON: {}", path.string(), e.what());
  }
}

TokenId token_id_from_json(const json& value, const std::filesystem::path& source) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
      value.get<std::int64_t>() >= kMaxTokenId) {
    throw Error("{}: token id {} is not an integer in [0, {})", source.string(), value.dump(),
                kMaxTokenId);
  }
  return value.get<TokenId>();
}

AddedToken added_token_from_json(const json& value, bool default_special) {
  AddedToken token;
  if (value.is_string()) {
    token.content = value.get<std::string>();
    token.special = default_special;
    return token;
  }
  token.content = value.at("content").get<std::string>();
  token.special = value.value("special", default_special);
  token.lstrip = value.value("lstrip", false);
  token.rstrip = value.value("rstrip", false);
  token.normalized = value.value("normalized", !token.special);  // Hugging Face's default
  token.single_word = value.value("single_word", false);
  return token;
}

}  // namespace llmserve::tokenizer
