#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>

#include "llmserve/engine/scheduler.h"

namespace llmserve::engine {
namespace {

// Drives a Scheduler without a model: a step "computes" what was scheduled, and a sequence whose
// chunk reaches its end gets one new token, as sampling would give it.
class SchedulerHarness {
 public:
  SchedulerHarness(std::int32_t num_blocks, std::int32_t block_size, SchedulerConfig config,
                   bool prefix_caching = false)
      : blocks(num_blocks, block_size, prefix_caching), scheduler(config, blocks) {}

  Sequence* add(std::int32_t prompt_len, std::int32_t max_tokens, std::int32_t first_token = 0) {
    std::vector<std::int32_t> prompt(static_cast<std::size_t>(prompt_len));
    for (std::int32_t i = 0; i < prompt_len; ++i) prompt[i] = first_token + i;
    sequences.push_back(std::make_unique<Sequence>(nullptr, 0, std::move(prompt), 0));
    max_tokens_.push_back(max_tokens);
    scheduler.add(sequences.back().get());
    return sequences.back().get();
  }

  const SchedulerOutput& step() {
    const SchedulerOutput& out = scheduler.schedule();
    for (const auto& [seq, n] : out.scheduled) {
      seq->num_computed_tokens += n;
      blocks.commit(seq->block_table, seq->tokens(), seq->num_computed_tokens);
      if (seq->num_uncomputed_tokens() > 0) continue;
      seq->append_token(7);
      if (seq->num_output_tokens() >= max_tokens_[index_of(seq)]) {
        seq->status = SequenceStatus::kFinished;
        blocks.free(seq->block_table);
      }
    }
    scheduler.remove_finished();
    blocks.check_invariants();
    return out;
  }

  std::size_t index_of(const Sequence* seq) const {
    for (std::size_t i = 0; i < sequences.size(); ++i) {
      if (sequences[i].get() == seq) return i;
    }
    return sequences.size();
  }

  static std::int32_t scheduled_tokens(const SchedulerOutput& out, const Sequence* seq) {
    for (const auto& s : out.scheduled) {
      if (s.sequence == seq) return s.num_new_tokens;
    }
    return 0;
  }

  BlockManager blocks;
  Scheduler scheduler;
  std::vector<std::unique_ptr<Sequence>> sequences;

 private:
  std::vector<std::int32_t> max_tokens_;
};

// A long prompt is split into chunks of what the budget leaves after one token per decode, and
// the running decodes advance in every one of those steps.
TEST(Scheduler, ChunkedPrefillNeverStallsDecodes) {
  SchedulerHarness h(64, 4, {8, 8});
  Sequence* a = h.add(3, 100);
  Sequence* b = h.add(2, 100);
  h.step();  // both prompts in one step (5 tokens)
  Sequence* longp = h.add(30, 100);
  std::int32_t chunks = 0;
  while (longp->num_computed_tokens < 30) {
    const auto& out = h.step();
    EXPECT_EQ(SchedulerHarness::scheduled_tokens(out, a), 1);
    EXPECT_EQ(SchedulerHarness::scheduled_tokens(out, b), 1);
    EXPECT_LE(out.num_batched_tokens, 8);
    EXPECT_LE(SchedulerHarness::scheduled_tokens(out, longp), 6);
    ++chunks;
  }
  EXPECT_EQ(chunks, 5);  // 30 tokens in chunks of 6
  EXPECT_EQ(longp->num_output_tokens(), 1);
}

TEST(Scheduler, AdmitsInArrivalOrderUnderTheSequenceCap) {
  SchedulerHarness h(64, 4, {2, 64});
  Sequence* a = h.add(4, 2);
  Sequence* b = h.add(4, 3);
  Sequence* c = h.add(1, 1);  // short, but it arrived last: it must not jump the queue
  h.step();
  EXPECT_EQ(a->status, SequenceStatus::kRunning);
  EXPECT_EQ(b->status, SequenceStatus::kRunning);
  EXPECT_EQ(c->status, SequenceStatus::kWaiting);
  h.step();  // a finishes (2 tokens)
  EXPECT_EQ(a->status, SequenceStatus::kFinished);
  h.step();
  EXPECT_EQ(c->status, SequenceStatus::kFinished);  // admitted, prefilled and done in one step
}

// Blocks for 2 sequences of 12 tokens only: when the older one needs a block, the newer is
// preempted (blocks freed, back at the front of the queue) and later recomputed; both finish.
TEST(Scheduler, PreemptsTheNewestAndEveryoneFinishes) {
  SchedulerHarness h(5, 4, {4, 64});
  Sequence* a = h.add(7, 12);
  Sequence* b = h.add(7, 12);
  Sequence* c = h.add(3, 2);
  bool saw_preemption = false;
  for (int i = 0; i < 200 && h.scheduler.has_unfinished(); ++i) {
    const auto& out = h.step();
    if (out.num_preempted > 0) {
      saw_preemption = true;
      EXPECT_NE(a->status, SequenceStatus::kWaiting) << "the oldest is never preempted";
    }
    for (const auto* seq : h.scheduler.waiting()) EXPECT_TRUE(seq->block_table.blocks.empty());
  }
  EXPECT_TRUE(saw_preemption);
  EXPECT_GT(h.scheduler.num_preemptions(), 0);
  for (const Sequence* seq : {a, b, c}) EXPECT_EQ(seq->status, SequenceStatus::kFinished);
  EXPECT_EQ(h.blocks.num_used_blocks(), 0);
}

// Random workloads on small caches: every step respects the budget and the cap, running
// sequences own the blocks for what they compute, waiting ones own none, and all finish.
TEST(Scheduler, RandomWorkloadsFinishWithinBudgetAndCap) {
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    const std::int32_t bs = 1 + static_cast<std::int32_t>(rng() % 8);
    const std::int32_t max_len = 40;
    const SchedulerConfig config{1 + static_cast<std::int32_t>(rng() % 6),
                                 8 + static_cast<std::int32_t>(rng() % 40)};
    const std::int32_t num_blocks = (max_len + bs - 1) / bs + static_cast<std::int32_t>(rng() % 20);
    SchedulerHarness h(num_blocks, bs, config, seed % 2 == 0);
    std::int32_t added = 0;
    for (int step = 0; step < 5000 && (added < 60 || h.scheduler.has_unfinished()); ++step) {
      if (added < 60 && rng() % 3 == 0) {
        const auto prompt = 1 + static_cast<std::int32_t>(rng() % 30);
        h.add(prompt, 1 + static_cast<std::int32_t>(rng() % (max_len - prompt)),
              static_cast<std::int32_t>(rng() % 3) * 100);
        ++added;
      }
      const auto& out = h.step();
      ASSERT_LE(out.num_batched_tokens, config.max_num_batched_tokens);
      ASSERT_LE(h.scheduler.num_running(), config.max_num_seqs);
      for (const auto* seq : h.scheduler.running()) {
        ASSERT_GE(static_cast<std::int64_t>(seq->block_table.blocks.size()) * bs,
                  seq->num_computed_tokens);
      }
      for (const auto* seq : h.scheduler.waiting()) ASSERT_TRUE(seq->block_table.blocks.empty());
    }
    EXPECT_FALSE(h.scheduler.has_unfinished()) << "seed " << seed;
    for (const auto& seq : h.sequences) EXPECT_EQ(seq->status, SequenceStatus::kFinished);
    EXPECT_EQ(h.blocks.num_used_blocks(), 0);
  }
}

}  // namespace
}  // namespace llmserve::engine
