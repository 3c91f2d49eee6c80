#pragma once
// Tokens added on top of the BPE vocabulary: special tokens such as <|im_end|>, and others such as
// Qwen's <think>. They are found in the text before pre-tokenization and map straight to their ids.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::tokenizer {

// Hugging Face's AddedToken fields.
struct AddedToken {
  std::string content;
  bool special = true;       // skipped by decode(skip_special = true)
  bool lstrip = false;       // a match takes in the whitespace before it
  bool rstrip = false;       // ... and the whitespace after it
  bool normalized = false;   // matched in normalized text rather than in the raw input
  bool single_word = false;  // matched only where it is not part of a longer word
};

struct AddedTokenWithId {
  TokenId id;
  AddedToken token;
};

// Finds added tokens in text as Hugging Face does (an Aho-Corasick search, leftmost-longest):
// the leftmost position where some token matches wins, and of the tokens matching there the
// longest. Immutable after construction; safe to use from any thread.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;  // matches nothing
  // `tokens` hold their contents as they appear in the text to search (normalized, for the
  // matcher that searches normalized text).
  explicit AddedTokenMatcher(std::vector<AddedTokenWithId> tokens);

  // Appends to `ids` the id of every added token found in `text` (valid UTF-8), and calls
  // `on_text(std::string_view)` for each non-empty stretch of text between them, in text order.
  template <typename OnText>
  void split(std::string_view text, std::vector<TokenId>& ids, OnText&& on_text) const;

 private:
  struct Found {
    std::size_t begin;  // lstrip/rstrip whitespace included
    std::size_t end;
    TokenId id;
  };
  std::optional<Found> find(std::string_view text, std::size_t from) const;

  // Sorted by first byte and, within one first byte, longest first.
  std::vector<AddedTokenWithId> tokens_;
  // tokens_[first_[b], first_[b + 1]) are the tokens whose content starts with byte b.
  std::array<std::uint32_t, 257> first_{};
};

template <typename OnText>
void AddedTokenMatcher::split(std::string_view text, std::vector<TokenId>& ids,
                              OnText&& on_text) const {
  std::size_t pos = 0;
  if (!tokens_.empty()) {
    while (const auto found = find(text, pos)) {
      if (found->begin > pos) on_text(text.substr(pos, found->begin - pos));
      ids.push_back(found->id);
      pos = found->end;
    }
  }
  if (pos < text.size()) on_text(text.substr(pos));
}

}  // namespace llmserve::tokenizer
