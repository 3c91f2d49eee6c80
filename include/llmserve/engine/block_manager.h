#pragma once
// The paged KV cache's bookkeeping: num_blocks blocks of block_size token slots, reference
// counted so sequences can share them (n > 1 forks, prefix caching). Only ids move here; the K/V
// data lives in the backend, which the engine asks to copy a block when a shared block must be
// written (copy-on-write).
//
// Every block is in exactly one state:
//   free    refcount 0, no cached content; on the free list
//   cached  refcount 0, holds a full block registered in the prefix cache; on an LRU list,
//           evicted (oldest release first) when an allocation finds the free list empty
//   used    refcount > 0, in at least one BlockTable
// Invariant: num_free_blocks() + num_cached_blocks() + num_used_blocks() == num_blocks().
//
// Prefix caching (when enabled): a full block is keyed by a chained hash of (the previous block's
// hash, its token ids), so a key names the whole prefix up to that block. A lookup that finds
// the key also compares the stored token ids and parent hash before it shares the block.
//
// All operations cost O(blocks touched); none allocates memory after construction except the
// tables' own vectors and the prefix cache's hash map. Engine thread only.
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace llmserve::engine {

// A sequence's blocks in logical order: token slot p lives in blocks[p / block_size].
struct BlockTable {
  std::vector<std::int32_t> blocks;
  // Chained prefix-cache hashes of the leading full blocks seen so far (matched or committed);
  // hashes.size() <= blocks.size(). Empty when prefix caching is off.
  std::vector<std::uint64_t> hashes;
};

// Copy every layer's K/V of block `src` into block `dst` before the step writes to `dst`.
struct BlockCopy {
  std::int32_t src = 0;
  std::int32_t dst = 0;
};

class BlockManager {
 public:
  BlockManager(std::int32_t num_blocks, std::int32_t block_size, bool enable_prefix_caching);

  std::int32_t num_blocks() const;
  std::int32_t block_size() const;
  bool prefix_caching_enabled() const;

  std::int32_t num_free_blocks() const;    // free
  std::int32_t num_cached_blocks() const;  // cached (allocatable too, by eviction)
  std::int32_t num_used_blocks() const;    // used
  std::int32_t refcount(std::int32_t block) const;

  // Prefix-cache lookup for an empty `table` about to compute `tokens`: shares the cached blocks
  // that match the longest run of leading full blocks, leaving at least one token to compute (the
  // step must produce logits). Returns the number of tokens covered (a multiple of block_size).
  // Counts tokens.size() queried tokens and the covered tokens as hits. Returns 0 when disabled.
  std::int32_t match_prefix(std::span<const std::int32_t> tokens, BlockTable& table);

  // Whether allocate(table, num_computed, num_tokens) would succeed now.
  bool can_allocate(const BlockTable& table, std::int32_t num_computed,
                    std::int32_t num_tokens) const;
  // Makes slots [num_computed, num_tokens) of `table` writable: appends blocks up to
  // ceil(num_tokens / block_size), and replaces every shared (refcount > 1) block those slots
  // fall in with a fresh one. Only the block holding slot num_computed can already hold computed
  // slots of this table (when num_computed % block_size != 0); for it the copy to run first is
  // returned, the others are replaced without one. Requires 0 <= num_computed <= num_tokens and
  // hashes.size() * block_size <= num_computed <= blocks.size() * block_size (hashed blocks are
  // never written again). Throws llmserve::Error on bad arguments or when there are not enough
  // blocks (callers check can_allocate first); on a throw `table` and the manager are unchanged.
  std::optional<BlockCopy> allocate(BlockTable& table, std::int32_t num_computed,
                                    std::int32_t num_tokens);
  // The decode case: one new token at slot num_tokens - 1.
  std::optional<BlockCopy> append_slot(BlockTable& table, std::int32_t num_tokens) {
    return allocate(table, num_tokens - 1, num_tokens);
  }

  // After a step computed K/V for tokens[0, num_computed): registers the table's newly full
  // blocks in the prefix cache (no-op when disabled). When an identical block is already
  // registered, that registration stays and this block is released as plain free on free().
  // Throws llmserve::Error unless num_computed <= min(tokens.size(), blocks.size() * block_size).
  void commit(BlockTable& table, std::span<const std::int32_t> tokens, std::int32_t num_computed);

  // A second table sharing every block of `table` (refcounts + 1). Throws llmserve::Error, changing
  // nothing, when `table` holds a block that is not in use (a table already freed, say).
  BlockTable fork(const BlockTable& table);

  // Drops the table's references (last block first, so a cached prefix's tail is evicted before
  // its head) and clears it. Blocks reaching refcount 0 become cached if registered, else free.
  // Throws llmserve::Error, changing nothing, when `table` holds a block that is not in use.
  void free(BlockTable& table);

  // Prefix-cache counters, in tokens.
  std::int64_t prefix_cache_queries() const;
  std::int64_t prefix_cache_hits() const;

  // Throws llmserve::Error naming the first broken invariant (state counts, list membership,
  // hash map consistency). For tests and debug checks; O(num_blocks).
  void check_invariants() const;

 private:
  enum class BlockState : std::uint8_t { kFree, kCached, kUsed };
  static constexpr std::int32_t kNoBlock = -1;

  void validate_allocate(const BlockTable& table, std::int32_t num_computed,
                         std::int32_t num_tokens) const;
  std::int32_t blocks_needed(const BlockTable& table, std::int32_t num_computed,
                             std::int32_t num_tokens) const;
  void check_held(const BlockTable& table, const char* operation) const;
  std::int32_t take_block();
  void evict(std::int32_t block);
  void acquire(std::int32_t block);
  void release(std::int32_t block);
  std::uint64_t block_hash(std::span<const std::int32_t> block_tokens,
                           std::uint64_t parent_hash) const;
  std::optional<std::int32_t> find_cached(std::uint64_t hash,
                                          std::span<const std::int32_t> block_tokens,
                                          std::uint64_t parent_hash) const;
  void register_block(std::int32_t block, std::span<const std::int32_t> block_tokens,
                      std::uint64_t hash, std::uint64_t parent_hash);
  std::span<const std::int32_t> stored_tokens(std::int32_t block) const;

  // The LRU list of cached blocks, intrusive over block ids: head = oldest release.
  void lru_push_back(std::int32_t block);
  void lru_unlink(std::int32_t block);

  void check_counts() const;
  void check_free_list() const;
  void check_lru_list() const;
  void check_block_states() const;
  void check_hash_map() const;

  std::int32_t num_blocks_;
  std::int32_t block_size_;
  bool enable_prefix_caching_;

  // Per block, indexed by block id.
  std::vector<std::int32_t> refcounts_;
  std::vector<BlockState> states_;
  std::vector<bool> registered_;              // in hash_to_block_ (cached, or used and shareable)
  std::vector<std::uint64_t> hashes_;         // valid while registered
  std::vector<std::uint64_t> parent_hashes_;  // valid while registered
  std::vector<std::int32_t> tokens_;          // [num_blocks][block_size], valid while registered
  std::vector<std::int32_t> lru_prev_;
  std::vector<std::int32_t> lru_next_;

  std::vector<std::int32_t> free_list_;  // a stack: the most recently freed block is reused first
  std::int32_t lru_head_ = kNoBlock;
  std::int32_t lru_tail_ = kNoBlock;
  std::int32_t num_cached_ = 0;
  std::int32_t num_used_ = 0;
  std::unordered_map<std::uint64_t, std::int32_t> hash_to_block_;

  std::int64_t prefix_cache_queries_ = 0;
  std::int64_t prefix_cache_hits_ = 0;
};

}  // namespace llmserve::engine
