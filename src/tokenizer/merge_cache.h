#pragma once
// Remembers the BPE result of each word: most words of a text recur, and a lookup costs far less
// than merging again. Thread-safe (readers share a lock); bounded: when it holds `capacity` words
// it starts over, so that a long-running server keeps the words of its recent traffic.
#include <cstddef>
#include <functional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::tokenizer {

class MergeCache {
 public:
  explicit MergeCache(std::size_t capacity) : capacity_(capacity) {}

  // Appends the ids cached for `word` to `ids`; false (and `ids` unchanged) when not cached.
  bool append_cached(std::string_view word, std::vector<TokenId>& ids) const;
  void insert(std::string_view word, std::span<const TokenId> word_ids);

 private:
  // Transparent hashing lets a string_view look up a std::string key without a copy.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::size_t capacity_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::vector<TokenId>, Hash, std::equal_to<>> words_;
};

}  // namespace llmserve::tokenizer
