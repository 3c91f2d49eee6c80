#pragma once
// Every token the tokenizer knows, BPE vocabulary and added tokens alike: its id, its spelling in
// the files ("Ġthe", "<|im_end|>") and the bytes it stands for. Built once while loading, then
// read-only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::tokenizer {

class Vocabulary {
 public:
  // `id` must be non-negative (the file readers check it). A later add of the same id or spelling
  // replaces the earlier one, so added tokens, added last, override the BPE vocabulary.
  void add(TokenId id, std::string_view token, bool special);

  std::string_view bytes(TokenId id) const {
    return contains(id) ? std::string_view(bytes_[static_cast<std::size_t>(id)]) : "";
  }
  std::optional<TokenId> id(std::string_view token) const;
  bool is_special(TokenId id) const {
    return contains(id) && special_[static_cast<std::size_t>(id)];
  }
  // One past the largest id.
  std::int32_t size() const { return static_cast<std::int32_t>(bytes_.size()); }

 private:
  bool contains(TokenId id) const { return id >= 0 && id < size(); }

  std::vector<std::string> bytes_;  // [size()]; empty for ids nothing was added under
  std::vector<bool> special_;       // [size()]
  std::unordered_map<std::string, TokenId> ids_;
};

}  // namespace llmserve::tokenizer
