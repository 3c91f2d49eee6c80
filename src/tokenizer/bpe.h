#pragma once
// Byte-level BPE as GPT-2 and Hugging Face define it: a word starts as one token per byte, then
// the adjacent pair with the lowest merge rank is merged (leftmost first among equal ranks) until
// no adjacent pair has a merge. Merges are looked up by id pair, so encoding builds no strings.
// Immutable apart from its internal cache; safe to use from any thread.
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "llmserve/tokenizer/tokenizer.h"
#include "merge_cache.h"

namespace llmserve::tokenizer {

class BpeModel {
 public:
  // `vocab`: byte-level token spellings ("Ġthe") and their ids; `merges`: pairs of vocab tokens,
  // in rank order. `ignore_merges` (Llama 3): a word that is itself in the vocabulary is that
  // token. Throws llmserve::Error naming `source` when a merge or one of the 256 byte tokens is
  // missing from the vocabulary.
  BpeModel(std::span<const std::pair<std::string, TokenId>> vocab,
           std::span<const std::pair<std::string, std::string>> merges, bool ignore_merges,
           const std::filesystem::path& source);

  // Appends the ids of `word` (raw bytes, one pre-tokenizer piece) to `ids`.
  void encode_word(std::string_view word, std::vector<TokenId>& ids) const;

 private:
  struct Merge {
    std::int32_t rank;
    TokenId merged;
  };
  static std::uint64_t pair_key(TokenId left, TokenId right) {
    return (std::uint64_t{static_cast<std::uint32_t>(left)} << 32) |
           static_cast<std::uint32_t>(right);
  }
  void merge_word(std::string_view word, std::vector<TokenId>& ids) const;

  std::array<TokenId, 256> byte_ids_{};
  std::unordered_map<std::uint64_t, Merge> merges_;  // pair_key(left, right) -> merge
  std::unordered_map<std::string, TokenId>
      whole_words_;  // raw bytes -> id; only with ignore_merges
  bool ignore_merges_;
  mutable MergeCache cache_;  // a cache: filling it does not change what encode_word returns
};

}  // namespace llmserve::tokenizer
