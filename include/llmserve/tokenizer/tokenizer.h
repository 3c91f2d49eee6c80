#pragma once
// Byte-level BPE tokenizer as Hugging Face defines it for GPT-2 and Qwen2: normalizer (NFC when
// tokenizer.json declares it) -> added/special tokens split out of the text -> pre-tokenizer regex
// (PCRE2, Unicode properties) -> byte-to-unicode mapping -> BPE merges by rank -> ids.
// Loaded from a model directory: tokenizer.json, or vocab.json + merges.txt (+ the special tokens
// that tokenizer_config.json names). Immutable after loading and safe to use from any thread
// (the merge cache is internally synchronised).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmserve::tokenizer {

using TokenId = std::int32_t;

class Tokenizer {
 public:
  // Throws llmserve::Error naming the file when neither layout is present or a file is malformed.
  static Tokenizer from_directory(const std::filesystem::path& dir);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Added tokens found in `text` map to their ids; with `parse_special` false the special ones
  // (<|im_end|>, <|endoftext|>) are encoded as ordinary text instead, as Hugging Face's
  // encode_special_tokens does, while non-special added tokens (Qwen's <think>) still match.
  // No BOS/EOS is added.
  std::vector<TokenId> encode(std::string_view text, bool parse_special = true) const;

  // Concatenated bytes of the tokens as UTF-8; invalid sequences (a token split mid-character at
  // the end) become U+FFFD, as Hugging Face's decoder does.
  std::string decode(std::span<const TokenId> ids, bool skip_special = false) const;

  // The raw bytes one token stands for (the byte-level mapping undone); empty for unknown ids.
  std::string_view token_bytes(TokenId id) const;
  std::optional<TokenId> token_to_id(std::string_view token) const;
  bool is_special(TokenId id) const;

  // One past the largest id the tokenizer knows (added tokens included).
  std::int32_t vocab_size() const;
  // From tokenizer_config.json's eos_token when present, else <|endoftext|> when it exists.
  std::optional<TokenId> eos_token_id() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmserve::tokenizer
