#pragma once
// JSON reading shared by the tokenizer file readers, each error naming the file.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "added_tokens.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::tokenizer {

// Ids at or past this are rejected: no real vocabulary comes close, and a hostile id must not
// make the id-indexed tables huge.
inline constexpr TokenId kMaxTokenId = 1 << 21;  // real vocabularies stay below 2^18

// The parsed file; throws llmserve::Error naming `path` when it is missing or malformed.
nlohmann::json read_json_file(const std::filesystem::path& path);

// `value` as a token id in [0, kMaxTokenId); throws llmserve::Error naming `source` otherwise.
TokenId token_id_from_json(const nlohmann::json& value, const std::filesystem::path& source);

// An AddedToken from its JSON object (content, special, lstrip, rstrip, normalized, single_word)
// or, for tokenizer_config.json's named tokens, from a plain string. Absent flags default as in
// Hugging Face: `special` to `default_special`, `normalized` to !special, the others to false.
AddedToken added_token_from_json(const nlohmann::json& value, bool default_special);

}  // namespace llmserve::tokenizer
