#include "merge_cache.h"

#include <mutex>

namespace llmserve::tokenizer {

bool MergeCache::append_cached(std::string_view word, std::vector<TokenId>& ids) const {
  const std::shared_lock lock(mutex_);
  const auto it = words_.find(word);
  if (it == words_.end()) return false;
  ids.insert(ids.end(), it->second.begin(), it->second.end());
  return true;
}

void MergeCache::insert(std::string_view word, std::span<const TokenId> word_ids) {
  const std::unique_lock lock(mutex_);
  if (words_.size() >= capacity_) words_.clear();
  words_.try_emplace(std::string(word), word_ids.begin(), word_ids.end());
}

}  // namespace llmserve::tokenizer
