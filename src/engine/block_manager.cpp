#include "llmserve/engine/block_manager.h"

#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <numeric>

#include "llmserve/common/error.h"

namespace llmserve::engine {
namespace {

// The parent hash of a sequence's first block: any fixed value works, as long as it never
// changes between the commit that registers a block and the lookup that finds it.
constexpr std::uint64_t kRootParentHash = 0x9e3779b97f4a7c15ULL;

}  // namespace

BlockManager::BlockManager(std::int32_t num_blocks, std::int32_t block_size,
                           bool enable_prefix_caching)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      enable_prefix_caching_(enable_prefix_caching) {
  if (num_blocks < 1) throw Error("BlockManager: num_blocks must be >= 1, got {}", num_blocks);
  if (block_size < 1) throw Error("BlockManager: block_size must be >= 1, got {}", block_size);
  const auto n = static_cast<std::size_t>(num_blocks);
  refcounts_.assign(n, 0);
  states_.assign(n, BlockState::kFree);
  registered_.assign(n, false);
  hashes_.assign(n, 0);
  parent_hashes_.assign(n, 0);
  tokens_.assign(n * static_cast<std::size_t>(block_size), 0);
  lru_prev_.assign(n, kNoBlock);
  lru_next_.assign(n, kNoBlock);
  // Reversed so that a fresh manager hands out blocks 0, 1, 2, ... (readable traces and tests).
  free_list_.resize(n);
  std::iota(free_list_.rbegin(), free_list_.rend(), 0);
  if (enable_prefix_caching) hash_to_block_.reserve(n);
}

std::int32_t BlockManager::num_blocks() const { return num_blocks_; }
std::int32_t BlockManager::block_size() const { return block_size_; }
bool BlockManager::prefix_caching_enabled() const { return enable_prefix_caching_; }

std::int32_t BlockManager::num_free_blocks() const {
  return static_cast<std::int32_t>(free_list_.size());
}
std::int32_t BlockManager::num_cached_blocks() const { return num_cached_; }
std::int32_t BlockManager::num_used_blocks() const { return num_used_; }

std::int32_t BlockManager::refcount(std::int32_t block) const {
  if (block < 0 || block >= num_blocks_) {
    throw Error("BlockManager::refcount: block {} out of range [0, {})", block, num_blocks_);
  }
  return refcounts_[block];
}

std::int64_t BlockManager::prefix_cache_queries() const { return prefix_cache_queries_; }
std::int64_t BlockManager::prefix_cache_hits() const { return prefix_cache_hits_; }

std::int32_t BlockManager::match_prefix(std::span<const std::int32_t> tokens, BlockTable& table) {
  if (!enable_prefix_caching_) return 0;
  if (!table.blocks.empty() || !table.hashes.empty()) {
    throw Error("BlockManager::match_prefix: the table must be empty, it holds {} blocks",
                table.blocks.size());
  }
  prefix_cache_queries_ += static_cast<std::int64_t>(tokens.size());
  const std::size_t block_size = static_cast<std::size_t>(block_size_);
  // The last token is never covered: the step that computes it produces the next logits.
  const std::size_t max_blocks = tokens.empty() ? 0 : (tokens.size() - 1) / block_size;
  std::uint64_t parent_hash = kRootParentHash;
  for (std::size_t i = 0; i < max_blocks; ++i) {
    const auto block_tokens = tokens.subspan(i * block_size, block_size);
    const std::uint64_t hash = block_hash(block_tokens, parent_hash);
    const auto block = find_cached(hash, block_tokens, parent_hash);
    if (!block) break;
    acquire(*block);
    table.blocks.push_back(*block);
    table.hashes.push_back(hash);
    parent_hash = hash;
  }
  const auto covered = static_cast<std::int32_t>(table.blocks.size()) * block_size_;
  prefix_cache_hits_ += covered;
  return covered;
}

bool BlockManager::can_allocate(const BlockTable& table, std::int32_t num_computed,
                                std::int32_t num_tokens) const {
  validate_allocate(table, num_computed, num_tokens);
  return blocks_needed(table, num_computed, num_tokens) <= num_free_blocks() + num_cached_;
}

std::optional<BlockCopy> BlockManager::allocate(BlockTable& table, std::int32_t num_computed,
                                                std::int32_t num_tokens) {
  validate_allocate(table, num_computed, num_tokens);
  const std::int32_t needed = blocks_needed(table, num_computed, num_tokens);
  if (needed > num_free_blocks() + num_cached_) {
    throw Error("BlockManager::allocate: slots [{}, {}) need {} blocks, only {} free and {} cached",
                num_computed, num_tokens, needed, num_free_blocks(), num_cached_);
  }
  if (num_tokens == num_computed) return std::nullopt;
  const std::size_t first = static_cast<std::size_t>(num_computed / block_size_);
  const auto end =
      static_cast<std::size_t>((std::int64_t{num_tokens} + block_size_ - 1) / block_size_);
  std::optional<BlockCopy> copy;
  for (std::size_t i = first; i < std::min(end, table.blocks.size()); ++i) {
    const std::int32_t shared = table.blocks[i];
    if (refcounts_[shared] == 1) continue;
    const std::int32_t fresh = take_block();
    // Only the first written block can hold slots this table already computed.
    if (i == first && num_computed % block_size_ != 0) copy = BlockCopy{shared, fresh};
    release(shared);
    table.blocks[i] = fresh;
  }
  while (table.blocks.size() < end) table.blocks.push_back(take_block());
  return copy;
}

void BlockManager::commit(BlockTable& table, std::span<const std::int32_t> tokens,
                          std::int32_t num_computed) {
  if (!enable_prefix_caching_) return;
  const auto covered_slots = static_cast<std::int64_t>(table.blocks.size()) * block_size_;
  if (num_computed < 0 || static_cast<std::size_t>(num_computed) > tokens.size() ||
      num_computed > covered_slots) {
    throw Error("BlockManager::commit: num_computed {} must lie in [0, min({} tokens, {} slots)]",
                num_computed, tokens.size(), covered_slots);
  }
  const std::size_t block_size = static_cast<std::size_t>(block_size_);
  const std::size_t full_blocks = static_cast<std::size_t>(num_computed / block_size_);
  for (std::size_t i = table.hashes.size(); i < full_blocks; ++i) {
    const std::uint64_t parent_hash = i == 0 ? kRootParentHash : table.hashes[i - 1];
    const auto block_tokens = tokens.subspan(i * block_size, block_size);
    const std::uint64_t hash = block_hash(block_tokens, parent_hash);
    table.hashes.push_back(hash);
    // An identical block registered earlier keeps its key; this one stays private.
    if (!hash_to_block_.contains(hash)) {
      register_block(table.blocks[i], block_tokens, hash, parent_hash);
    }
  }
}

BlockTable BlockManager::fork(const BlockTable& table) {
  check_held(table, "fork");
  for (const std::int32_t block : table.blocks) acquire(block);
  return table;
}

void BlockManager::free(BlockTable& table) {
  check_held(table, "free");
  for (auto it = table.blocks.rbegin(); it != table.blocks.rend(); ++it) release(*it);
  table.blocks.clear();
  table.hashes.clear();
}

void BlockManager::validate_allocate(const BlockTable& table, std::int32_t num_computed,
                                     std::int32_t num_tokens) const {
  if (num_computed < 0 || num_computed > num_tokens) {
    throw Error("BlockManager::allocate: need 0 <= num_computed {} <= num_tokens {}", num_computed,
                num_tokens);
  }
  const auto covered_slots = static_cast<std::int64_t>(table.blocks.size()) * block_size_;
  if (num_computed > covered_slots) {
    throw Error("BlockManager::allocate: num_computed {} is past the table's {} slots",
                num_computed, covered_slots);
  }
  const auto hashed_slots = static_cast<std::int64_t>(table.hashes.size()) * block_size_;
  if (num_computed < hashed_slots) {
    throw Error("BlockManager::allocate: num_computed {} would rewrite the {} hashed slots",
                num_computed, hashed_slots);
  }
}

// Blocks allocate() takes: one per block appended, one per shared block it must replace.
std::int32_t BlockManager::blocks_needed(const BlockTable& table, std::int32_t num_computed,
                                         std::int32_t num_tokens) const {
  if (num_tokens == num_computed) return 0;
  const std::size_t first = static_cast<std::size_t>(num_computed / block_size_);
  const auto end =
      static_cast<std::size_t>((std::int64_t{num_tokens} + block_size_ - 1) / block_size_);
  const std::size_t held = table.blocks.size();
  std::int32_t needed = static_cast<std::int32_t>(end > held ? end - held : 0);
  for (std::size_t i = first; i < std::min(end, held); ++i) {
    if (refcounts_[table.blocks[i]] > 1) ++needed;
  }
  return needed;
}

void BlockManager::check_held(const BlockTable& table, const char* operation) const {
  for (const std::int32_t block : table.blocks) {
    if (block < 0 || block >= num_blocks_ || states_[block] != BlockState::kUsed) {
      throw Error("BlockManager::{}: the table holds block {}, which is not in use", operation,
                  block);
    }
  }
}

// Callers have checked that a block is available: the free list first, else the oldest release.
std::int32_t BlockManager::take_block() {
  std::int32_t block;
  if (!free_list_.empty()) {
    block = free_list_.back();
    free_list_.pop_back();
  } else {
    block = lru_head_;
    assert(block != kNoBlock);
    evict(block);
  }
  states_[block] = BlockState::kUsed;
  refcounts_[block] = 1;
  ++num_used_;
  return block;
}

void BlockManager::evict(std::int32_t block) {
  lru_unlink(block);
  --num_cached_;
  hash_to_block_.erase(hashes_[block]);
  registered_[block] = false;
}

void BlockManager::acquire(std::int32_t block) {
  if (states_[block] == BlockState::kCached) {
    lru_unlink(block);
    --num_cached_;
    states_[block] = BlockState::kUsed;
    ++num_used_;
  }
  ++refcounts_[block];
}

void BlockManager::release(std::int32_t block) {
  if (--refcounts_[block] > 0) return;
  --num_used_;
  if (registered_[block]) {
    states_[block] = BlockState::kCached;
    lru_push_back(block);
    ++num_cached_;
  } else {
    states_[block] = BlockState::kFree;
    free_list_.push_back(block);
  }
}

std::uint64_t BlockManager::block_hash(std::span<const std::int32_t> block_tokens,
                                       std::uint64_t parent_hash) const {
  return XXH3_64bits_withSeed(block_tokens.data(), block_tokens.size_bytes(), parent_hash);
}

// A key match is only a candidate: the stored tokens and parent hash must match too, so a hash
// collision costs a cache miss, never wrong K/V.
std::optional<std::int32_t> BlockManager::find_cached(std::uint64_t hash,
                                                      std::span<const std::int32_t> block_tokens,
                                                      std::uint64_t parent_hash) const {
  const auto it = hash_to_block_.find(hash);
  if (it == hash_to_block_.end()) return std::nullopt;
  const std::int32_t block = it->second;
  if (parent_hashes_[block] != parent_hash) return std::nullopt;
  if (!std::ranges::equal(stored_tokens(block), block_tokens)) return std::nullopt;
  return block;
}

void BlockManager::register_block(std::int32_t block, std::span<const std::int32_t> block_tokens,
                                  std::uint64_t hash, std::uint64_t parent_hash) {
  hash_to_block_.emplace(hash, block);
  registered_[block] = true;
  hashes_[block] = hash;
  parent_hashes_[block] = parent_hash;
  std::ranges::copy(block_tokens,
                    tokens_.begin() + static_cast<std::ptrdiff_t>(block) * block_size_);
}

std::span<const std::int32_t> BlockManager::stored_tokens(std::int32_t block) const {
  return std::span<const std::int32_t>(tokens_).subspan(
      static_cast<std::size_t>(block) * static_cast<std::size_t>(block_size_),
      static_cast<std::size_t>(block_size_));
}

void BlockManager::lru_push_back(std::int32_t block) {
  lru_prev_[block] = lru_tail_;
  lru_next_[block] = kNoBlock;
  if (lru_tail_ != kNoBlock) {
    lru_next_[lru_tail_] = block;
  } else {
    lru_head_ = block;
  }
  lru_tail_ = block;
}

void BlockManager::lru_unlink(std::int32_t block) {
  const std::int32_t prev = lru_prev_[block];
  const std::int32_t next = lru_next_[block];
  if (prev != kNoBlock) {
    lru_next_[prev] = next;
  } else {
    lru_head_ = next;
  }
  if (next != kNoBlock) {
    lru_prev_[next] = prev;
  } else {
    lru_tail_ = prev;
  }
  lru_prev_[block] = kNoBlock;
  lru_next_[block] = kNoBlock;
}

void BlockManager::check_invariants() const {
  check_counts();
  check_block_states();
  check_free_list();
  check_lru_list();
  check_hash_map();
}

void BlockManager::check_counts() const {
  if (num_free_blocks() + num_cached_ + num_used_ != num_blocks_) {
    throw Error("BlockManager: free {} + cached {} + used {} != num_blocks {}", num_free_blocks(),
                num_cached_, num_used_, num_blocks_);
  }
  const auto count = [&](BlockState state) {
    return static_cast<std::int32_t>(std::ranges::count(states_, state));
  };
  if (count(BlockState::kFree) != num_free_blocks() || count(BlockState::kCached) != num_cached_ ||
      count(BlockState::kUsed) != num_used_) {
    throw Error(
        "BlockManager: states free {} / cached {} / used {} disagree with counts {} / {} / {}",
        count(BlockState::kFree), count(BlockState::kCached), count(BlockState::kUsed),
        num_free_blocks(), num_cached_, num_used_);
  }
}

void BlockManager::check_block_states() const {
  for (std::int32_t block = 0; block < num_blocks_; ++block) {
    const std::int32_t refs = refcounts_[block];
    const BlockState state = states_[block];
    if (refs < 0) throw Error("BlockManager: block {} has refcount {}", block, refs);
    if ((state == BlockState::kUsed) != (refs > 0)) {
      throw Error("BlockManager: block {} has refcount {} but is {}", block, refs,
                  state == BlockState::kUsed ? "used" : "not used");
    }
    if ((state == BlockState::kCached && !registered_[block]) ||
        (state == BlockState::kFree && registered_[block])) {
      throw Error("BlockManager: block {} is {} but {}registered", block,
                  state == BlockState::kCached ? "cached" : "free",
                  registered_[block] ? "" : "not ");
    }
  }
}

// Counts already match the states, so every free block is on the list iff no entry repeats.
void BlockManager::check_free_list() const {
  std::vector<bool> seen(static_cast<std::size_t>(num_blocks_), false);
  for (const std::int32_t block : free_list_) {
    if (block < 0 || block >= num_blocks_ || states_[block] != BlockState::kFree) {
      throw Error("BlockManager: free list holds block {}, which is not free", block);
    }
    if (seen[block]) throw Error("BlockManager: block {} is on the free list twice", block);
    seen[block] = true;
  }
}

void BlockManager::check_lru_list() const {
  std::int32_t length = 0;
  std::int32_t prev = kNoBlock;
  for (std::int32_t block = lru_head_; block != kNoBlock; block = lru_next_[block]) {
    if (block < 0 || block >= num_blocks_ || states_[block] != BlockState::kCached) {
      throw Error("BlockManager: LRU list holds block {}, which is not cached", block);
    }
    if (lru_prev_[block] != prev) {
      throw Error("BlockManager: LRU block {} links back to {}, expected {}", block,
                  lru_prev_[block], prev);
    }
    if (++length > num_cached_) {
      throw Error("BlockManager: LRU list is longer than the {} cached blocks", num_cached_);
    }
    prev = block;
  }
  if (prev != lru_tail_ || length != num_cached_) {
    throw Error("BlockManager: LRU list has {} blocks ending at {}, expected {} ending at {}",
                length, prev, num_cached_, lru_tail_);
  }
}

void BlockManager::check_hash_map() const {
  for (const auto& [hash, block] : hash_to_block_) {
    if (block < 0 || block >= num_blocks_ || !registered_[block] || hashes_[block] != hash) {
      throw Error("BlockManager: hash {:016x} maps to block {}, which is not registered under it",
                  hash, block);
    }
  }
  const auto registered = static_cast<std::size_t>(std::ranges::count(registered_, true));
  if (registered != hash_to_block_.size()) {
    throw Error("BlockManager: {} blocks are registered but the hash map has {} entries",
                registered, hash_to_block_.size());
  }
}

}  // namespace llmserve::engine
