#pragma once
// UTF-8 validation and lossy repair, shared by encode (which needs valid input for PCRE2 and
// utf8proc), decode and the incremental detokenizer. Invalid input is repaired the way Rust's
// String::from_utf8_lossy does it (and so Hugging Face's ByteLevel decoder): each maximal subpart
// of an ill-formed sequence becomes one U+FFFD (Unicode 15, section 3.9, "U+FFFD Substitution of
// Maximal Subparts").
#include <cstddef>
#include <string>
#include <string_view>

namespace llmserve::tokenizer::utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_valid(std::string_view bytes);

// Appends `bytes` to `out` with every ill-formed subpart replaced by U+FFFD. With
// `hold_incomplete_tail`, a trailing sequence that is a valid but incomplete prefix of a character
// is left unconsumed (a later byte may complete it); otherwise it becomes U+FFFD too.
// Returns the number of bytes consumed.
std::size_t append_lossy(std::string& out, std::string_view bytes, bool hold_incomplete_tail);

// The code point starting at `bytes[pos]` (valid UTF-8 assumed) and the length of its encoding.
struct CodePoint {
  char32_t value;
  std::size_t length;
};
CodePoint decode_at(std::string_view bytes, std::size_t pos);
// The code point that ends just before `bytes[end]` (valid UTF-8 assumed, end > 0).
CodePoint decode_before(std::string_view bytes, std::size_t end);

}  // namespace llmserve::tokenizer::utf8
