#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "llmserve/common/error.h"
#include "llmserve/engine/block_manager.h"

namespace llmserve::engine {
namespace {

using Tokens = std::vector<std::int32_t>;
using Blocks = std::vector<std::int32_t>;

// A sequence that computes `tokens` from scratch: allocate, compute, commit.
BlockTable compute(BlockManager& bm, const Tokens& tokens) {
  BlockTable table;
  const auto n = static_cast<std::int32_t>(tokens.size());
  const std::int32_t covered = bm.match_prefix(tokens, table);
  bm.allocate(table, covered, n);
  bm.commit(table, tokens, n);
  return table;
}

Blocks head(const BlockTable& table, std::size_t n) {
  return Blocks(table.blocks.begin(), table.blocks.begin() + static_cast<std::ptrdiff_t>(n));
}

TEST(BlockManager, RejectsBadSizes) {
  EXPECT_THROW(BlockManager(0, 16, false), Error);
  EXPECT_THROW(BlockManager(8, 0, false), Error);
  EXPECT_THROW(BlockManager(-1, 16, true), Error);
}

TEST(BlockManager, AllocateAndFree) {
  BlockManager bm(8, 4, false);
  BlockTable table;
  EXPECT_EQ(bm.allocate(table, 0, 10), std::nullopt);
  EXPECT_EQ(table.blocks, (Blocks{0, 1, 2}));
  EXPECT_EQ(bm.num_used_blocks(), 3);
  EXPECT_EQ(bm.num_free_blocks(), 5);
  for (std::int32_t block : table.blocks) EXPECT_EQ(bm.refcount(block), 1);
  bm.allocate(table, 10, 12);  // fits in the third block
  EXPECT_EQ(table.blocks.size(), 3u);
  bm.append_slot(table, 13);
  EXPECT_EQ(table.blocks.size(), 4u);
  bm.check_invariants();

  bm.free(table);
  EXPECT_TRUE(table.blocks.empty());
  EXPECT_EQ(bm.num_used_blocks(), 0);
  EXPECT_EQ(bm.num_free_blocks(), 8);
  EXPECT_EQ(bm.num_cached_blocks(), 0);
  for (std::int32_t block = 0; block < 8; ++block) EXPECT_EQ(bm.refcount(block), 0);
  bm.check_invariants();
}

TEST(BlockManager, ExhaustionRefusesAndLeavesStateUnchanged) {
  BlockManager bm(4, 4, false);
  BlockTable a;
  ASSERT_TRUE(bm.can_allocate(a, 0, 16));
  bm.allocate(a, 0, 16);
  EXPECT_EQ(bm.num_free_blocks(), 0);

  BlockTable b;
  EXPECT_FALSE(bm.can_allocate(b, 0, 1));
  EXPECT_THROW(bm.allocate(b, 0, 1), Error);
  EXPECT_TRUE(b.blocks.empty());
  EXPECT_FALSE(bm.can_allocate(a, 16, 17));
  const Blocks before = a.blocks;
  EXPECT_THROW(bm.append_slot(a, 17), Error);
  EXPECT_EQ(a.blocks, before);
  EXPECT_TRUE(bm.can_allocate(a, 15, 16));  // the last slot of a held block needs nothing
  EXPECT_EQ(bm.num_used_blocks(), 4);
  bm.check_invariants();
}

TEST(BlockManager, RejectsInvalidArguments) {
  BlockManager bm(8, 4, true);
  BlockTable table;
  EXPECT_THROW(bm.allocate(table, 2, 1), Error);   // num_computed > num_tokens
  EXPECT_THROW(bm.allocate(table, -1, 3), Error);  // negative
  EXPECT_THROW(bm.allocate(table, 4, 6), Error);   // computed slots the table does not hold
  EXPECT_THROW((void)bm.can_allocate(table, 4, 6), Error);
  const Tokens tokens = {1, 2, 3, 4, 5, 6};
  bm.allocate(table, 0, 6);
  bm.commit(table, tokens, 6);
  EXPECT_THROW(bm.allocate(table, 2, 6), Error);  // would rewrite a hashed block
  EXPECT_THROW(bm.commit(table, tokens, 9), Error);
  EXPECT_THROW(bm.match_prefix(tokens, table), Error);  // table not empty
  EXPECT_THROW((void)bm.refcount(8), Error);
  bm.check_invariants();
}

TEST(BlockManager, ForkSharesAndCopyOnWriteLeavesOriginal) {
  BlockManager bm(8, 4, false);
  BlockTable a;
  bm.allocate(a, 0, 6);  // blocks {0, 1}; slots 4, 5 of block 1 computed
  const BlockTable b_before = a;
  BlockTable b = bm.fork(a);
  EXPECT_EQ(b.blocks, a.blocks);
  EXPECT_EQ(bm.refcount(0), 2);
  EXPECT_EQ(bm.refcount(1), 2);
  EXPECT_EQ(bm.num_used_blocks(), 2);

  const auto copy = bm.append_slot(b, 7);  // writes slot 6 of the shared block 1
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(copy->src, 1);
  EXPECT_EQ(copy->dst, 2);
  EXPECT_EQ(b.blocks, (Blocks{0, 2}));
  EXPECT_EQ(a.blocks, b_before.blocks);
  EXPECT_EQ(bm.refcount(0), 2);
  EXPECT_EQ(bm.refcount(1), 1);
  EXPECT_EQ(bm.refcount(2), 1);

  EXPECT_EQ(bm.append_slot(a, 7), std::nullopt);  // block 1 is a's alone now
  EXPECT_EQ(a.blocks, b_before.blocks);
  bm.check_invariants();
}

TEST(BlockManager, AppendAtBlockBoundaryNeedsNoCopy) {
  BlockManager bm(8, 4, false);
  BlockTable a;
  bm.allocate(a, 0, 8);
  BlockTable b = bm.fork(a);
  EXPECT_EQ(bm.append_slot(b, 9), std::nullopt);
  EXPECT_EQ(b.blocks, (Blocks{0, 1, 2}));
  EXPECT_EQ(bm.refcount(1), 2);
  bm.check_invariants();
}

// Forked before its blocks were computed: every shared block about to be written is replaced, but
// only a block holding already-computed slots needs its K/V copied.
TEST(BlockManager, SharedBlocksAheadOfComputedAreReplacedWithoutCopy) {
  BlockManager bm(8, 4, false);
  BlockTable a;
  bm.allocate(a, 0, 12);  // {0, 1, 2}
  BlockTable b = bm.fork(a);
  EXPECT_EQ(bm.allocate(b, 4, 12), std::nullopt);
  EXPECT_EQ(b.blocks, (Blocks{0, 3, 4}));

  BlockTable c = bm.fork(a);
  const auto copy = bm.allocate(c, 6, 12);
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(copy->src, 1);
  EXPECT_EQ(copy->dst, c.blocks[1]);
  EXPECT_NE(c.blocks[2], 2);
  EXPECT_EQ(a.blocks, (Blocks{0, 1, 2}));
  for (std::int32_t block : a.blocks) EXPECT_EQ(bm.refcount(block), block == 0 ? 3 : 1);
  bm.check_invariants();
}

TEST(BlockManager, CanAllocateCountsCopyOnWriteBlock) {
  BlockManager bm(2, 4, false);
  BlockTable a;
  bm.allocate(a, 0, 6);
  BlockTable b = bm.fork(a);
  // No block is appended, but the shared block 1 must be copied and none is free.
  EXPECT_FALSE(bm.can_allocate(b, 6, 7));
  EXPECT_THROW(bm.append_slot(b, 7), Error);
  EXPECT_EQ(b.blocks, a.blocks);
  bm.free(a);
  EXPECT_TRUE(bm.can_allocate(b, 6, 7));
  EXPECT_EQ(bm.append_slot(b, 7), std::nullopt);  // sole owner now
  bm.check_invariants();
}

TEST(BlockManager, FreeRestoresRefcounts) {
  BlockManager bm(8, 4, false);
  BlockTable a;
  bm.allocate(a, 0, 9);
  BlockTable b = bm.fork(a);
  BlockTable c = bm.fork(b);
  for (std::int32_t block : a.blocks) EXPECT_EQ(bm.refcount(block), 3);
  bm.free(b);
  for (std::int32_t block : a.blocks) EXPECT_EQ(bm.refcount(block), 2);
  bm.free(c);
  for (std::int32_t block : a.blocks) EXPECT_EQ(bm.refcount(block), 1);
  EXPECT_EQ(bm.num_used_blocks(), 3);
  EXPECT_EQ(bm.num_free_blocks(), 5);
  bm.free(a);
  EXPECT_EQ(bm.num_free_blocks(), 8);
  bm.check_invariants();
}

TEST(PrefixCache, SamePromptSharesFullBlocks) {
  BlockManager bm(16, 4, true);
  const Tokens prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  BlockTable a = compute(bm, prompt);
  ASSERT_EQ(a.hashes.size(), 2u);

  BlockTable b;
  EXPECT_EQ(bm.match_prefix(prompt, b), 8);
  EXPECT_EQ(b.blocks, head(a, 2));
  EXPECT_EQ(b.hashes, a.hashes);
  EXPECT_EQ(bm.refcount(a.blocks[0]), 2);
  EXPECT_EQ(bm.refcount(a.blocks[2]), 1);
  EXPECT_EQ(bm.allocate(b, 8, 10), std::nullopt);
  EXPECT_NE(b.blocks[2], a.blocks[2]);
  bm.check_invariants();
}

TEST(PrefixCache, LeavesAtLeastOneTokenToCompute) {
  BlockManager bm(16, 4, true);
  const Tokens prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  BlockTable a = compute(bm, prompt);
  BlockTable exact;  // two full blocks and nothing after: only the first may be shared
  EXPECT_EQ(bm.match_prefix(Tokens(prompt.begin(), prompt.begin() + 8), exact), 4);
  BlockTable one_more;
  EXPECT_EQ(bm.match_prefix(prompt, one_more), 8);
  BlockTable single;
  EXPECT_EQ(bm.match_prefix(Tokens{1}, single), 0);
  BlockTable empty;
  EXPECT_EQ(bm.match_prefix(Tokens{}, empty), 0);
}

TEST(PrefixCache, DivergenceInSecondBlockSharesOnlyFirst) {
  BlockManager bm(16, 4, true);
  BlockTable a = compute(bm, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  BlockTable b;
  EXPECT_EQ(bm.match_prefix(Tokens{1, 2, 3, 4, 5, 6, 0, 8, 9}, b), 4);
  EXPECT_EQ(b.blocks, head(a, 1));
  EXPECT_EQ(b.hashes.size(), 1u);
}

// Equal tokens in block 2 after a different block 1 are a different prefix: no hit.
TEST(PrefixCache, HashIsChained) {
  BlockManager bm(16, 4, true);
  BlockTable a = compute(bm, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  BlockTable b = compute(bm, {0, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_NE(b.hashes[1], a.hashes[1]);
  EXPECT_NE(b.blocks[1], a.blocks[1]);
  BlockTable c;
  EXPECT_EQ(bm.match_prefix(Tokens{0, 2, 3, 4, 5, 6, 7, 8, 0}, c), 8);
  EXPECT_EQ(c.blocks, head(b, 2));
}

TEST(PrefixCache, DisabledNeverHits) {
  BlockManager bm(16, 4, false);
  const Tokens prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  BlockTable a = compute(bm, prompt);
  EXPECT_TRUE(a.hashes.empty());
  BlockTable b;
  EXPECT_EQ(bm.match_prefix(prompt, b), 0);
  EXPECT_TRUE(b.blocks.empty());
  bm.free(a);
  EXPECT_EQ(bm.num_cached_blocks(), 0);
  EXPECT_EQ(bm.match_prefix(prompt, b), 0);
  EXPECT_EQ(bm.prefix_cache_queries(), 0);
  EXPECT_EQ(bm.prefix_cache_hits(), 0);
}

TEST(PrefixCache, ReleasedRegisteredBlocksStayCachedAndHit) {
  BlockManager bm(8, 4, true);
  const Tokens prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  BlockTable a = compute(bm, prompt);
  const Blocks blocks = a.blocks;
  bm.free(a);
  EXPECT_EQ(bm.num_cached_blocks(), 2);  // the two full blocks
  EXPECT_EQ(bm.num_free_blocks(), 6);
  EXPECT_EQ(bm.num_used_blocks(), 0);
  bm.check_invariants();

  BlockTable b;
  EXPECT_EQ(bm.match_prefix(prompt, b), 8);
  EXPECT_EQ(b.blocks, (Blocks{blocks[0], blocks[1]}));
  EXPECT_EQ(bm.num_cached_blocks(), 0);
  EXPECT_EQ(bm.num_used_blocks(), 2);
  EXPECT_EQ(bm.refcount(blocks[0]), 1);
  bm.check_invariants();
}

// Two sequences computed the same block before either committed: the first registration stays,
// and the duplicate becomes plain free when released.
TEST(PrefixCache, DuplicateCommitKeepsFirstRegistration) {
  BlockManager bm(8, 4, true);
  const Tokens prompt = {1, 2, 3, 4, 5};
  BlockTable a;
  BlockTable b;
  bm.allocate(a, bm.match_prefix(prompt, a), 5);
  bm.allocate(b, bm.match_prefix(prompt, b), 5);
  bm.commit(a, prompt, 5);
  bm.commit(b, prompt, 5);
  EXPECT_EQ(a.hashes, b.hashes);
  const std::int32_t registered = a.blocks[0];
  bm.free(b);
  EXPECT_EQ(bm.num_cached_blocks(), 0);
  bm.free(a);
  EXPECT_EQ(bm.num_cached_blocks(), 1);
  BlockTable c;
  EXPECT_EQ(bm.match_prefix(prompt, c), 4);
  EXPECT_EQ(c.blocks, (Blocks{registered}));
  bm.check_invariants();
}

// Pool of 4 blocks of 2; `x` and `y` each leave one cached full block and one free block.
class PrefixCacheLru : public ::testing::Test {
 protected:
  void SetUp() override {
    BlockTable x = compute(bm_, x_prompt_);
    BlockTable y = compute(bm_, y_prompt_);
    x_block_ = x.blocks[0];
    y_block_ = y.blocks[0];
    bm_.free(x);  // x released first: oldest
    bm_.free(y);
    ASSERT_EQ(bm_.num_cached_blocks(), 2);
    ASSERT_EQ(bm_.num_free_blocks(), 2);
  }
  std::int32_t hit_tokens(const Tokens& prompt) {
    BlockTable table;
    const std::int32_t covered = bm_.match_prefix(prompt, table);
    bm_.free(table);
    return covered;
  }
  // Takes every free block and one more: one eviction.
  BlockTable allocate_three_blocks() {
    BlockTable table;
    bm_.allocate(table, 0, 6);
    return table;
  }

  BlockManager bm_{4, 2, true};
  const Tokens x_prompt_ = {1, 1, 9};
  const Tokens y_prompt_ = {2, 2, 9};
  std::int32_t x_block_ = -1;
  std::int32_t y_block_ = -1;
};

TEST_F(PrefixCacheLru, EvictsOldestReleaseFirst) {
  BlockTable z = allocate_three_blocks();
  EXPECT_NE(std::ranges::find(z.blocks, x_block_), z.blocks.end());
  EXPECT_EQ(bm_.num_cached_blocks(), 1);
  EXPECT_EQ(hit_tokens(x_prompt_), 0);
  EXPECT_EQ(hit_tokens(y_prompt_), 2);
  bm_.check_invariants();
}

TEST_F(PrefixCacheLru, ReHitMakesBlockNewest) {
  BlockTable hit;
  EXPECT_EQ(bm_.match_prefix(Tokens{1, 1, 5}, hit), 2);
  EXPECT_EQ(bm_.num_cached_blocks(), 1);  // x left the LRU list while in use
  EXPECT_EQ(bm_.refcount(x_block_), 1);
  bm_.free(hit);  // x back on the list, now newer than y
  BlockTable z = allocate_three_blocks();
  EXPECT_NE(std::ranges::find(z.blocks, y_block_), z.blocks.end());
  EXPECT_EQ(hit_tokens(x_prompt_), 2);
  EXPECT_EQ(hit_tokens(y_prompt_), 0);
  bm_.check_invariants();
}

TEST_F(PrefixCacheLru, BlockInUseIsNeverEvicted) {
  BlockTable hit;
  bm_.match_prefix(x_prompt_, hit);
  BlockTable z;
  bm_.allocate(z, 0, 6);  // two free blocks and the only cached one, y
  EXPECT_FALSE(bm_.can_allocate(z, 6, 7));
  EXPECT_EQ(std::ranges::find(z.blocks, x_block_), z.blocks.end());
  bm_.check_invariants();
}

// A freed table releases its last block first, so a cached prefix loses its tail before its head.
TEST(PrefixCache, FreeReleasesTailFirst) {
  BlockManager bm(3, 2, true);
  const Tokens prompt = {1, 2, 3, 4, 5};
  BlockTable a = compute(bm, prompt);
  bm.free(a);
  ASSERT_EQ(bm.num_cached_blocks(), 2);
  BlockTable z;
  bm.allocate(z, 0, 4);  // the free block and one eviction
  BlockTable b;
  EXPECT_EQ(bm.match_prefix(prompt, b), 2);
  bm.check_invariants();
}

TEST(PrefixCache, CountersInTokens) {
  BlockManager bm(16, 4, true);
  const Tokens prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  BlockTable a = compute(bm, prompt);  // 10 queried, 0 hit
  BlockTable b;
  bm.match_prefix(prompt, b);  // 10 queried, 8 hit
  BlockTable c;
  bm.match_prefix(Tokens{1, 2, 3, 4, 0}, c);  // 5 queried, 4 hit
  EXPECT_EQ(bm.prefix_cache_queries(), 25);
  EXPECT_EQ(bm.prefix_cache_hits(), 12);
}

// ---------------------------------------------------------------------------------------------
// Randomised schedules. The test keeps its own model of the K/V: each slot written records the
// token and an id of the whole prefix ending there (K/V depends on every earlier token), so a
// shared block that was overwritten, or a hit on equal tokens after a different prefix, shows up
// as a live sequence whose computed slots disagree with its tokens.

struct Slot {
  std::int32_t token = -1;
  std::uint64_t prefix_id = 0;
};

struct Sequence {
  BlockTable table;
  Tokens tokens;
  std::vector<std::uint64_t> prefix_ids;  // [tokens.size()]
  std::int32_t num_computed = 0;
};

struct RandomConfig {
  std::int32_t num_blocks;
  std::int32_t block_size;
  bool prefix_caching;
  std::uint32_t seed;
};

class RandomSchedule {
 public:
  explicit RandomSchedule(const RandomConfig& config)
      : bm_(config.num_blocks, config.block_size, config.prefix_caching),
        rng_(config.seed),
        slots_(static_cast<std::size_t>(config.num_blocks) *
               static_cast<std::size_t>(config.block_size)),
        max_tokens_(config.num_blocks * config.block_size / 2) {
    for (int i = 0; i < 3; ++i) bases_.push_back(random_tokens(max_tokens_));
  }

  void step() {
    const std::uint32_t op = pick(100);
    if (op < 20 && seqs_.size() < 8) {
      admit();
    } else if (op < 65 && !seqs_.empty()) {
      advance(seqs_[pick(seqs_.size())]);
    } else if (op < 75 && !seqs_.empty() && seqs_.size() < 8) {
      fork(seqs_[pick(seqs_.size())]);
    } else if (!seqs_.empty()) {
      free(pick(seqs_.size()));
    }
  }

  void free_all() {
    while (!seqs_.empty()) free(seqs_.size() - 1);
  }

  // Every check that does not need the manager's internals.
  void check() const {
    ASSERT_NO_THROW(bm_.check_invariants());
    ASSERT_EQ(bm_.num_free_blocks() + bm_.num_cached_blocks() + bm_.num_used_blocks(),
              bm_.num_blocks());
    std::vector<std::int32_t> owners(static_cast<std::size_t>(bm_.num_blocks()), 0);
    for (const Sequence& seq : seqs_) {
      for (std::int32_t block : seq.table.blocks) ++owners[block];
      ASSERT_LE(seq.table.hashes.size(), seq.table.blocks.size());
      if (!bm_.prefix_caching_enabled()) {
        ASSERT_TRUE(seq.table.hashes.empty());
      }
      for (std::int32_t p = 0; p < seq.num_computed; ++p) {
        const Slot& slot = slot_at(seq.table, p);
        ASSERT_EQ(slot.token, seq.tokens[p]) << "slot " << p;
        ASSERT_EQ(slot.prefix_id, seq.prefix_ids[p]) << "slot " << p;
      }
    }
    std::int32_t used = 0;
    for (std::int32_t block = 0; block < bm_.num_blocks(); ++block) {
      ASSERT_EQ(owners[block], bm_.refcount(block)) << "block " << block;
      used += owners[block] > 0;
    }
    ASSERT_EQ(used, bm_.num_used_blocks());
    ASSERT_EQ(bm_.prefix_cache_queries(), queries_);
    ASSERT_EQ(bm_.prefix_cache_hits(), hits_);
  }

  const BlockManager& manager() const { return bm_; }
  std::int64_t hits() const { return hits_; }
  std::int64_t copies() const { return copies_; }

 private:
  std::uint32_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::uint32_t>(0, static_cast<std::uint32_t>(n) - 1)(rng_);
  }
  // A two-letter alphabet makes equal blocks, and equal blocks after different prefixes, common.
  Tokens random_tokens(std::int32_t n) {
    Tokens tokens(static_cast<std::size_t>(n));
    for (auto& token : tokens) token = static_cast<std::int32_t>(pick(2));
    return tokens;
  }

  // A prompt that often shares a prefix with another: a base prompt's or a live sequence's head,
  // then a few random tokens.
  Tokens random_prompt() {
    const bool from_live = !seqs_.empty() && pick(2) == 0;
    const Tokens& source = from_live ? seqs_[pick(seqs_.size())].tokens : bases_[pick(3)];
    Tokens prompt(source.begin(), source.begin() + pick(source.size() + 1));
    for (std::uint32_t n = pick(6); n > 0; --n)
      prompt.push_back(static_cast<std::int32_t>(pick(2)));
    if (prompt.empty()) prompt.push_back(0);
    prompt.resize(std::min(prompt.size(), static_cast<std::size_t>(max_tokens_)));
    return prompt;
  }

  void admit() {
    Sequence seq;
    seq.tokens = random_prompt();
    for (std::size_t p = 0; p < seq.tokens.size(); ++p) extend_prefix_id(seq, p);
    seq.num_computed = bm_.match_prefix(seq.tokens, seq.table);
    if (bm_.prefix_caching_enabled()) queries_ += static_cast<std::int64_t>(seq.tokens.size());
    hits_ += seq.num_computed;
    const auto bs = bm_.block_size();
    ASSERT_EQ(seq.num_computed % bs, 0);
    ASSERT_LT(seq.num_computed, static_cast<std::int32_t>(seq.tokens.size()));
    ASSERT_EQ(seq.table.blocks.size(), static_cast<std::size_t>(seq.num_computed / bs));
    ASSERT_EQ(seq.table.hashes.size(), seq.table.blocks.size());
    // A shared block must hold exactly the tokens, and the prefix, being matched.
    for (std::int32_t p = 0; p < seq.num_computed; ++p) {
      ASSERT_EQ(slot_at(seq.table, p).token, seq.tokens[p]) << "hit slot " << p;
      ASSERT_EQ(slot_at(seq.table, p).prefix_id, seq.prefix_ids[p]) << "hit slot " << p;
    }
    seqs_.push_back(std::move(seq));
  }

  // One prefill chunk, or one decode token once the prompt is computed.
  void advance(Sequence& seq) {
    const bool decode = seq.num_computed == static_cast<std::int32_t>(seq.tokens.size());
    if (decode) {
      if (seq.tokens.size() >= static_cast<std::size_t>(max_tokens_)) return;
      seq.tokens.push_back(static_cast<std::int32_t>(pick(2)));
      extend_prefix_id(seq, seq.tokens.size() - 1);
    }
    const std::int32_t remaining = static_cast<std::int32_t>(seq.tokens.size()) - seq.num_computed;
    const std::int32_t end =
        seq.num_computed + std::min<std::int32_t>(remaining, 1 + pick(3 * bm_.block_size()));
    if (!bm_.can_allocate(seq.table, seq.num_computed, end)) {
      const BlockTable before = seq.table;
      ASSERT_THROW(bm_.allocate(seq.table, seq.num_computed, end), Error);
      ASSERT_EQ(seq.table.blocks, before.blocks);
      if (decode) {
        seq.tokens.pop_back();
        seq.prefix_ids.pop_back();
      }
      return;
    }
    const BlockTable before = seq.table;
    const auto copy = bm_.allocate(seq.table, seq.num_computed, end);
    check_allocation(before, seq, end, copy);
    if (::testing::Test::HasFatalFailure()) return;
    write(seq, end);
    bm_.commit(seq.table, seq.tokens, seq.num_computed);
  }

  // The contract of allocate() as seen from outside, then the K/V model: a copied block takes its
  // source's slots, any other fresh block starts unwritten.
  void check_allocation(const BlockTable& before, const Sequence& seq, std::int32_t end,
                        const std::optional<BlockCopy>& copy) {
    const std::int32_t bs = bm_.block_size();
    const auto first = static_cast<std::size_t>(seq.num_computed / bs);
    ASSERT_EQ(seq.table.blocks.size(),
              std::max(before.blocks.size(), static_cast<std::size_t>((end + bs - 1) / bs)));
    for (std::size_t i = 0; i < first; ++i) ASSERT_EQ(seq.table.blocks[i], before.blocks[i]);
    if (copy) {
      ++copies_;
      ASSERT_NE(seq.num_computed % bs, 0);
      ASSERT_LT(first, before.blocks.size());
      ASSERT_EQ(copy->src, before.blocks[first]);
      ASSERT_EQ(copy->dst, seq.table.blocks[first]);
    }
    for (std::size_t i = first; i < seq.table.blocks.size(); ++i) {
      const std::int32_t block = seq.table.blocks[i];
      if (i < before.blocks.size() && block == before.blocks[i]) continue;
      const bool copied = copy && copy->dst == block;
      for (std::int32_t s = 0; s < bs; ++s) {
        slot(block, s) = copied ? slot(copy->src, s) : Slot{};
      }
    }
  }

  // Computes slots [num_computed, end): every block written must be this sequence's alone.
  void write(Sequence& seq, std::int32_t end) {
    const std::int32_t bs = bm_.block_size();
    for (std::int32_t p = seq.num_computed; p < end; ++p) {
      const std::int32_t block = seq.table.blocks[static_cast<std::size_t>(p / bs)];
      ASSERT_EQ(bm_.refcount(block), 1) << "writing shared block " << block;
      slot(block, p % bs) = Slot{seq.tokens[p], seq.prefix_ids[p]};
    }
    seq.num_computed = end;
  }

  void fork(const Sequence& seq) {
    Sequence child = seq;
    child.table = bm_.fork(seq.table);
    ASSERT_EQ(child.table.blocks, seq.table.blocks);
    seqs_.push_back(std::move(child));
  }

  void free(std::size_t index) {
    bm_.free(seqs_[index].table);
    ASSERT_TRUE(seqs_[index].table.blocks.empty());
    ASSERT_TRUE(seqs_[index].table.hashes.empty());
    seqs_.erase(seqs_.begin() + static_cast<std::ptrdiff_t>(index));
  }

  static void extend_prefix_id(Sequence& seq, std::size_t p) {
    const std::uint64_t prev = p == 0 ? 0 : seq.prefix_ids[p - 1];
    seq.prefix_ids.push_back(prev * 0x100000001b3ULL + static_cast<std::uint64_t>(seq.tokens[p]) +
                             1);
  }

  Slot& slot(std::int32_t block, std::int32_t s) {
    return slots_[static_cast<std::size_t>(block) * static_cast<std::size_t>(bm_.block_size()) +
                  static_cast<std::size_t>(s)];
  }
  const Slot& slot_at(const BlockTable& table, std::int32_t p) const {
    const std::int32_t bs = bm_.block_size();
    const std::int32_t block = table.blocks[static_cast<std::size_t>(p / bs)];
    return slots_[static_cast<std::size_t>(block) * static_cast<std::size_t>(bs) +
                  static_cast<std::size_t>(p % bs)];
  }

  BlockManager bm_;
  std::mt19937 rng_;
  std::vector<Slot> slots_;  // [num_blocks][block_size]: what the "K/V" of each slot was made of
  std::int32_t max_tokens_;
  std::vector<Tokens> bases_;
  std::vector<Sequence> seqs_;
  std::int64_t queries_ = 0;
  std::int64_t hits_ = 0;
  std::int64_t copies_ = 0;
};

class BlockManagerRandom : public ::testing::TestWithParam<RandomConfig> {};

TEST_P(BlockManagerRandom, InvariantsHoldAfterEveryOperation) {
  RandomSchedule schedule(GetParam());
  for (int i = 0; i < 4000; ++i) {
    schedule.step();
    ASSERT_FALSE(HasFatalFailure()) << "operation " << i;
    schedule.check();
    ASSERT_FALSE(HasFatalFailure()) << "after operation " << i;
  }
  schedule.free_all();
  schedule.check();
  EXPECT_EQ(schedule.manager().num_used_blocks(), 0);
  // The schedule must have exercised copy-on-write (impossible with one-slot blocks), and prefix
  // hits when caching is on.
  if (GetParam().block_size > 1) {
    EXPECT_GT(schedule.copies(), 0);
  }
  if (GetParam().prefix_caching) {
    EXPECT_GT(schedule.hits(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, BlockManagerRandom,
    ::testing::Values(RandomConfig{24, 4, true, 1}, RandomConfig{24, 4, true, 2},
                      RandomConfig{24, 4, true, 3}, RandomConfig{24, 4, false, 4},
                      RandomConfig{40, 1, true, 5}, RandomConfig{16, 3, true, 6},
                      RandomConfig{64, 2, true, 7}, RandomConfig{12, 5, true, 8}));

}  // namespace
}  // namespace llmserve::engine
