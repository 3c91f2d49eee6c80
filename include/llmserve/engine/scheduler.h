#pragma once
// Continuous batching: decides, every step, which sequences run and how many of their tokens.
//
// A step has a token budget (max_num_batched_tokens) and a sequence cap (max_num_seqs). Running
// sequences come first, in admission order: a decode takes one token, and a prefill takes a chunk
// of what the budget leaves after reserving one token for every decode still to come, so decodes
// never wait behind a long prompt (chunked prefill). Waiting sequences are then admitted in
// arrival order while budget, cap and free blocks last; admission never jumps the queue, and
// pauses in a step that had to preempt.
//
// When a running sequence cannot get the blocks it needs, the most recently admitted sequence is
// preempted: its blocks are freed and it goes back to the front of the waiting queue, to be
// recomputed later. The oldest running sequence is therefore never preempted by another, so
// every admitted sequence finishes (no starvation), provided one sequence of max_model_len tokens
// fits in the cache, which the engine checks at startup.
//
// Engine thread only. schedule() allocates nothing once its vectors have grown.
#include <cstdint>
#include <deque>
#include <vector>

#include "llmserve/engine/block_manager.h"
#include "llmserve/engine/sequence.h"

namespace llmserve::engine {

struct SchedulerConfig {
  std::int32_t max_num_seqs = 256;
  std::int32_t max_num_batched_tokens = 2048;
};

struct ScheduledSequence {
  Sequence* sequence = nullptr;
  std::int32_t num_new_tokens = 0;  // tokens [num_computed, num_computed + num_new_tokens)
};

struct SchedulerOutput {
  std::vector<ScheduledSequence> scheduled;  // running order
  std::vector<BlockCopy> block_copies;       // copy-on-write, to run before the step
  std::int32_t num_batched_tokens = 0;
  std::int32_t num_preempted = 0;  // in this step
  bool empty() const { return scheduled.empty(); }
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, BlockManager& blocks);

  // A new sequence, at the back of the waiting queue.
  void add(Sequence* sequence);
  // A sequence forked from a running one: it runs from the next step on, as the newest.
  void add_running(Sequence* sequence);

  const SchedulerOutput& schedule();

  // Drops finished sequences (their blocks must already be freed) from both queues.
  void remove_finished();

  std::int32_t num_waiting() const { return static_cast<std::int32_t>(waiting_.size()); }
  std::int32_t num_running() const { return static_cast<std::int32_t>(running_.size()); }
  bool has_unfinished() const { return !waiting_.empty() || !running_.empty(); }
  std::int64_t num_preemptions() const { return num_preemptions_; }
  const std::deque<Sequence*>& waiting() const { return waiting_; }
  const std::vector<Sequence*>& running() const { return running_; }

 private:
  void schedule_running();
  void admit_waiting();
  // Preempts the newest running sequence (running_.back()).
  void preempt_newest();
  // The largest chunk <= want of `sequence`'s uncomputed tokens that fits the free blocks.
  std::int32_t fit_chunk(const Sequence& sequence, std::int32_t want) const;
  void add_scheduled(Sequence* sequence, std::int32_t num_new_tokens);

  SchedulerConfig config_;
  BlockManager* blocks_;
  std::deque<Sequence*> waiting_;   // arrival order; preempted sequences re-enter at the front
  std::vector<Sequence*> running_;  // admission order
  SchedulerOutput output_;
  std::int32_t budget_ = 0;
  std::int64_t num_preemptions_ = 0;
};

}  // namespace llmserve::engine
