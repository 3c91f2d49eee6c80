#pragma once
// One output sequence of a request: its tokens (prompt, then what it generated), where its K/V
// lives (block table) and how much of it has K/V already (num_computed_tokens, which chunked
// prefill, prefix-cache hits and preemption move). A request with n > 1 has n sequences: the
// first prefills the prompt, the others fork from it once the prompt is computed.
//
// A sequence knows nothing of queues or the model: the Scheduler moves it between states, the
// engine appends tokens. Engine thread only.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "llmserve/engine/block_manager.h"
#include "llmserve/engine/finish_reason.h"

namespace llmserve::engine {

struct Request;  // engine_core.cpp: the request a sequence belongs to

enum class SequenceStatus { kWaiting, kRunning, kFinished };

class Sequence {
 public:
  Sequence(Request* request, std::int32_t index, std::vector<std::int32_t> prompt_ids,
           std::uint64_t seed);
  // A copy of `parent` for choice `index` (n > 1): same tokens and computed prefix, the parent's
  // blocks shared through `table` (BlockManager::fork), its own random stream.
  Sequence(const Sequence& parent, std::int32_t index, BlockTable table, std::uint64_t seed);

  Request& request() const { return *request_; }
  std::int32_t index() const { return index_; }

  std::span<const std::int32_t> tokens() const { return tokens_; }
  std::span<const std::int32_t> prompt_ids() const;
  std::span<const std::int32_t> output_ids() const;
  std::int32_t num_tokens() const { return static_cast<std::int32_t>(tokens_.size()); }
  std::int32_t prompt_len() const { return prompt_len_; }
  std::int32_t num_output_tokens() const { return num_tokens() - prompt_len_; }
  void append_token(std::int32_t token) { tokens_.push_back(token); }

  // Tokens whose K/V is in the cache. A decoding sequence lacks only its newest token's.
  std::int32_t num_computed_tokens = 0;
  std::int32_t num_uncomputed_tokens() const { return num_tokens() - num_computed_tokens; }
  bool is_decoding() const { return num_uncomputed_tokens() == 1; }

  BlockTable block_table;
  // Choices still to fork from this sequence once its prompt is computed (n - 1, then 0). The
  // scheduler reserves their places under max_num_seqs when it admits the sequence.
  std::int32_t num_pending_forks = 0;
  SequenceStatus status = SequenceStatus::kWaiting;
  std::optional<FinishReason> finish_reason;
  std::mt19937_64 rng;

 private:
  Request* request_;
  std::int32_t index_;
  std::vector<std::int32_t> tokens_;
  std::int32_t prompt_len_;
};

}  // namespace llmserve::engine
