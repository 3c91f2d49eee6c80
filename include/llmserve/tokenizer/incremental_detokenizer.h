#pragma once
// Turns a stream of token ids into a stream of UTF-8 text without ever emitting a broken
// sequence: bytes of an incomplete character are held back until a later token completes them
// (or flush() ends the stream, turning what is left into U+FFFD). One per output sequence.
#include <string>

#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::tokenizer {

class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special = true);

  // The text that became complete with this token (possibly empty).
  std::string push(TokenId id);
  // Whatever is still held back, as U+FFFD replacement characters.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;  // bytes of a UTF-8 character not yet complete
};

}  // namespace llmserve::tokenizer
