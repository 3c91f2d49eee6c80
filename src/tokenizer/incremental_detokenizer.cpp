#include "llmserve/tokenizer/incremental_detokenizer.h"

#include "utf8.h"

namespace llmserve::tokenizer {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

// Bytes that can never become valid are replaced at once, exactly as decode() would replace them
// in the whole text, so the pushes and the flush always concatenate to decode(all ids).
std::string IncrementalDetokenizer::push(TokenId id) {
  if (skip_special_ && tokenizer_->is_special(id)) return {};
  pending_.append(tokenizer_->token_bytes(id));
  std::string text;
  pending_.erase(0, utf8::append_lossy(text, pending_, /*hold_incomplete_tail=*/true));
  return text;
}

std::string IncrementalDetokenizer::flush() {
  std::string text;
  utf8::append_lossy(text, pending_, /*hold_incomplete_tail=*/false);
  pending_.clear();
  return text;
}

}  // namespace llmserve::tokenizer
