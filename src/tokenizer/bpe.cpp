#include "bpe.h"

#include <algorithm>
#include <optional>

#include "byte_level.h"
#include "llmserve/common/error.h"

namespace llmserve::tokenizer {
namespace {

// Enough for the distinct words of a large, varied prompt mix; each entry costs ~100 bytes.
constexpr std::size_t kCacheCapacityWords = 1 << 16;
// Longer words (runs of spaces or digits, base64) are rare; caching them would only evict others.
constexpr std::size_t kMaxCachedWordBytes = 256;

}  // namespace

BpeModel::BpeModel(std::span<const std::pair<std::string, TokenId>> vocab,
                   std::span<const std::pair<std::string, std::string>> merges, bool ignore_merges,
                   const std::filesystem::path& source)
    : ignore_merges_(ignore_merges), cache_(kCacheCapacityWords) {
  std::unordered_map<std::string_view, TokenId> ids;
  ids.reserve(vocab.size());
  for (const auto& [token, id] : vocab) ids.emplace(token, id);
  const auto id_of = [&](std::string_view token) {
    const auto it = ids.find(token);
    return it == ids.end() ? std::optional<TokenId>() : it->second;
  };

  for (unsigned b = 0; b < 256; ++b) {
    const auto id = id_of(byte_level::char_for_byte(static_cast<std::uint8_t>(b)));
    if (!id) throw Error("{}: the vocabulary has no token for byte 0x{:02X}", source.string(), b);
    byte_ids_[b] = *id;
  }

  merges_.reserve(merges.size());
  std::string merged_token;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    merged_token.assign(left).append(right);
    const auto left_id = id_of(left);
    const auto right_id = id_of(right);
    const auto merged_id = id_of(merged_token);
    if (!left_id || !right_id || !merged_id) {
      throw Error("{}: merge {} (\"{}\" \"{}\") names a token that is not in the vocabulary",
                  source.string(), rank, left, right);
    }
    // A repeated pair keeps its last rank, as Hugging Face's map does.
    merges_[pair_key(*left_id, *right_id)] = Merge{static_cast<std::int32_t>(rank), *merged_id};
  }

  if (ignore_merges_) {
    for (const auto& [token, id] : vocab)
      whole_words_.emplace(byte_level::token_to_bytes(token), id);
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& ids) const {
  if (word.size() == 1) {
    ids.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable && cache_.append_cached(word, ids)) return;
  const std::size_t first = ids.size();
  const auto whole = ignore_merges_ ? whole_words_.find(std::string(word)) : whole_words_.end();
  if (whole != whole_words_.end()) {
    ids.push_back(whole->second);
  } else {
    merge_word(word, ids);
  }
  if (cacheable) cache_.insert(word, std::span(ids).subspan(first));
}

void BpeModel::merge_word(std::string_view word, std::vector<TokenId>& ids) const {
  // The word's symbols form a linked list; a merge keeps the left symbol and unlinks the right.
  struct Symbol {
    TokenId id;  // kUnlinked once merged into its left neighbour
    std::int32_t prev;
    std::int32_t next;  // -1: last symbol
  };
  constexpr TokenId kUnlinked = -1;
  // A possible merge of symbol `left` with its right neighbour; it is stale (and skipped) when
  // either side has changed since it was queued.
  struct Candidate {
    std::int32_t rank;
    std::int32_t left;
    TokenId left_id;
    TokenId right_id;
    TokenId merged;
  };
  const auto pops_later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  // Reused across calls: a miss in the cache then allocates nothing.
  constexpr std::size_t kMaxRetainedSymbols = std::size_t{1} << 16;
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> queue;  // a min-heap by (rank, position)

  const auto size = static_cast<std::int32_t>(word.size());
  symbols.clear();
  queue.clear();
  // One huge word (a megabyte-long run of letters) must not pin its scratch on this thread.
  if (symbols.capacity() > kMaxRetainedSymbols) {
    symbols.shrink_to_fit();
    queue.shrink_to_fit();
  }
  for (std::int32_t i = 0; i < size; ++i) {
    symbols.push_back(
        {byte_ids_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < size ? i + 1 : -1});
  }
  const auto queue_merge = [&](std::int32_t left) {
    const TokenId left_id = symbols[left].id;
    const TokenId right_id = symbols[symbols[left].next].id;
    const auto it = merges_.find(pair_key(left_id, right_id));
    if (it == merges_.end()) return;
    queue.push_back({it->second.rank, left, left_id, right_id, it->second.merged});
    std::push_heap(queue.begin(), queue.end(), pops_later);
  };
  for (std::int32_t i = 0; i + 1 < size; ++i) queue_merge(i);

  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), pops_later);
    const Candidate c = queue.back();
    queue.pop_back();
    Symbol& left = symbols[c.left];
    if (left.id != c.left_id || left.next < 0 || symbols[left.next].id != c.right_id) continue;
    Symbol& right = symbols[left.next];
    left.id = c.merged;
    left.next = right.next;
    right.id = kUnlinked;
    if (left.next >= 0) symbols[left.next].prev = c.left;
    if (left.prev >= 0) queue_merge(left.prev);
    if (left.next >= 0) queue_merge(c.left);
  }
  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

}  // namespace llmserve::tokenizer
