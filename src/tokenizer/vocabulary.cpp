#include "vocabulary.h"

#include "byte_level.h"

namespace llmserve::tokenizer {

void Vocabulary::add(TokenId id, std::string_view token, bool special) {
  const auto index = static_cast<std::size_t>(id);
  if (index >= bytes_.size()) {
    bytes_.resize(index + 1);
    special_.resize(index + 1);
  }
  bytes_[index] = byte_level::token_to_bytes(token);
  special_[index] = special;
  ids_.insert_or_assign(std::string(token), id);
}

std::optional<TokenId> Vocabulary::id(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

}  // namespace llmserve::tokenizer
