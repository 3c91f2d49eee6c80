#include "llmserve/engine/scheduler.h"

#include <algorithm>

namespace llmserve::engine {

Scheduler::Scheduler(SchedulerConfig config, BlockManager& blocks)
    : config_(config), blocks_(&blocks) {}

void Scheduler::add(Sequence* sequence) {
  sequence->status = SequenceStatus::kWaiting;
  waiting_.push_back(sequence);
}

void Scheduler::add_running(Sequence* sequence) {
  sequence->status = SequenceStatus::kRunning;
  running_.push_back(sequence);
}

const SchedulerOutput& Scheduler::schedule() {
  output_.scheduled.clear();
  output_.block_copies.clear();
  output_.num_batched_tokens = 0;
  output_.num_preempted = 0;
  budget_ = config_.max_num_batched_tokens;
  schedule_running();
  // After a preemption memory is short: admitting now would only recompute the victim (or a
  // newcomer) until the next preemption.
  if (output_.num_preempted == 0) admit_waiting();
  return output_;
}

void Scheduler::schedule_running() {
  // Decodes not yet visited: each keeps one token of the budget away from the prefills ahead.
  auto decodes_left = static_cast<std::int32_t>(
      std::count_if(running_.begin(), running_.end(), [](auto* s) { return s->is_decoding(); }));
  for (std::size_t i = 0; i < running_.size(); ++i) {
    Sequence* seq = running_[i];
    const bool decode = seq->is_decoding();
    if (decode) --decodes_left;
    std::int32_t want = decode ? 1 : std::min(seq->num_uncomputed_tokens(), budget_ - decodes_left);
    if (want <= 0) continue;
    bool preempted_itself = false;
    while (!blocks_->can_allocate(seq->block_table, seq->num_computed_tokens,
                                  seq->num_computed_tokens + want)) {
      if (!decode) {
        const std::int32_t fit = fit_chunk(*seq, want);
        if (fit > 0 && fit < want) {
          want = fit;
          continue;
        }
      }
      Sequence* victim = running_.back();
      preempted_itself = victim == seq;
      if (!preempted_itself && victim->is_decoding()) --decodes_left;
      preempt_newest();
      if (preempted_itself) break;
    }
    if (preempted_itself) break;  // it was the newest: nothing runs after it
    add_scheduled(seq, want);
  }
}

void Scheduler::admit_waiting() {
  std::int32_t seq_slots = 0;
  for (const Sequence* seq : running_) seq_slots += 1 + seq->num_pending_forks;
  while (!waiting_.empty() && budget_ > 0) {
    Sequence* seq = waiting_.front();
    if (seq_slots + 1 + seq->num_pending_forks > config_.max_num_seqs) break;
    // Cheap refusal first, so a prefix lookup (and its counters) runs only for a likely admission.
    if (!blocks_->can_allocate(BlockTable{}, 0, std::min(seq->num_uncomputed_tokens(), budget_))) {
      break;
    }
    if (seq->block_table.blocks.empty()) {
      seq->num_computed_tokens = blocks_->match_prefix(seq->tokens(), seq->block_table);
    }
    std::int32_t want = std::min(seq->num_uncomputed_tokens(), budget_);
    if (!blocks_->can_allocate(seq->block_table, seq->num_computed_tokens,
                               seq->num_computed_tokens + want)) {
      want = fit_chunk(*seq, want);
      if (want <= 0) {  // shared blocks go back to the cache, to be matched on a later attempt
        blocks_->free(seq->block_table);
        seq->num_computed_tokens = 0;
        break;
      }
    }
    waiting_.pop_front();
    seq->status = SequenceStatus::kRunning;
    running_.push_back(seq);
    seq_slots += 1 + seq->num_pending_forks;
    add_scheduled(seq, want);
  }
}

void Scheduler::preempt_newest() {
  Sequence* seq = running_.back();
  running_.pop_back();
  blocks_->free(seq->block_table);
  seq->num_computed_tokens = 0;
  seq->status = SequenceStatus::kWaiting;
  waiting_.push_front(seq);
  ++num_preemptions_;
  ++output_.num_preempted;
}

std::int32_t Scheduler::fit_chunk(const Sequence& sequence, std::int32_t want) const {
  const std::int64_t bs = blocks_->block_size();
  const std::int64_t slots_in_table =
      static_cast<std::int64_t>(sequence.block_table.blocks.size()) * bs -
      sequence.num_computed_tokens;
  const std::int64_t allocatable = blocks_->num_free_blocks() + blocks_->num_cached_blocks();
  return static_cast<std::int32_t>(
      std::clamp<std::int64_t>(slots_in_table + allocatable * bs, 0, want));
}

void Scheduler::add_scheduled(Sequence* sequence, std::int32_t num_new_tokens) {
  if (auto copy = blocks_->allocate(sequence->block_table, sequence->num_computed_tokens,
                                    sequence->num_computed_tokens + num_new_tokens)) {
    output_.block_copies.push_back(*copy);
  }
  output_.scheduled.push_back({sequence, num_new_tokens});
  output_.num_batched_tokens += num_new_tokens;
  budget_ -= num_new_tokens;
}

void Scheduler::remove_finished() {
  auto finished = [](const Sequence* s) { return s->status == SequenceStatus::kFinished; };
  std::erase_if(running_, finished);
  std::erase_if(waiting_, finished);
}

}  // namespace llmserve::engine
