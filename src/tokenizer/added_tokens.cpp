#include "added_tokens.h"

#include <utf8proc.h>

#include <algorithm>

#include "utf8.h"

namespace llmserve::tokenizer {
namespace {

// Unicode White_Space, what Rust's \s (used by Hugging Face for lstrip/rstrip) matches.
bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Rust's \w (used by Hugging Face for single_word): letters, marks, decimal digits, connector
// punctuation and the joiners, by general category (Rust's Alphabetic adds a few symbols such as
// circled letters, which no added token borders in practice).
bool is_word_char(char32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedTokenWithId> tokens) {
  std::erase_if(tokens, [](const AddedTokenWithId& t) { return t.token.content.empty(); });
  std::stable_sort(tokens.begin(), tokens.end(), [](const auto& a, const auto& b) {
    const auto a_first = static_cast<unsigned char>(a.token.content[0]);
    const auto b_first = static_cast<unsigned char>(b.token.content[0]);
    if (a_first != b_first) return a_first < b_first;
    return a.token.content.size() > b.token.content.size();
  });
  tokens_ = std::move(tokens);
  std::size_t i = 0;
  for (unsigned b = 0; b <= 256; ++b) {
    while (i < tokens_.size() && static_cast<unsigned char>(tokens_[i].token.content[0]) < b) ++i;
    first_[b] = static_cast<std::uint32_t>(i);
  }
}

std::optional<AddedTokenMatcher::Found> AddedTokenMatcher::find(std::string_view text,
                                                                std::size_t from) const {
  for (std::size_t pos = from; pos < text.size();) {
    const auto b = static_cast<unsigned char>(text[pos]);
    const AddedTokenWithId* match = nullptr;
    for (std::uint32_t i = first_[b]; i < first_[b + 1] && match == nullptr; ++i) {
      if (text.substr(pos).starts_with(tokens_[i].token.content)) match = &tokens_[i];
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    const AddedToken& token = match->token;
    std::size_t begin = pos;
    std::size_t end = pos + token.content.size();
    // Like the Aho-Corasick iteration it mirrors, a rejected match is skipped whole.
    if (token.single_word &&
        ((begin > 0 && is_word_char(utf8::decode_before(text, begin).value)) ||
         (end < text.size() && is_word_char(utf8::decode_at(text, end).value)))) {
      pos = end;
      continue;
    }
    while (token.lstrip && begin > from && is_whitespace(utf8::decode_before(text, begin).value)) {
      begin -= utf8::decode_before(text, begin).length;
    }
    while (token.rstrip && end < text.size() && is_whitespace(utf8::decode_at(text, end).value)) {
      end += utf8::decode_at(text, end).length;
    }
    return Found{begin, end, match->id};
  }
  return std::nullopt;
}

}  // namespace llmserve::tokenizer
