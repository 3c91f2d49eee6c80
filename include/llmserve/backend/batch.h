#pragma once
// One forward step, flattened over every scheduled sequence: prefill chunks and decode tokens
// ride together. This is the only thing a backend sees of the engine. Shapes use T = total new
// tokens in the step, B = sequences in the step.
//
// Paged KV: the cache is num_blocks blocks of block_size token slots. Sequence b's token at
// position p lives in slot block_tables[b][p / block_size] * block_size + p % block_size. The
// new tokens' K/V are written to slot_mapping first; attention then reads every position
// 0..context_lens[b]-1 through the block table, so a sequence's blocks need not be contiguous.
// Before any of that, block_copies duplicates whole blocks (every layer's K and V): a block that
// sequences shared is copied before one of them writes into it (copy-on-write).
#include <cstdint>
#include <optional>
#include <vector>

namespace llmserve::backend {

// A token that only pads a step to a recorded shape (a CUDA graph's batch size): its K/V is
// stored nowhere and its outputs are ignored. Its sequence's block table must still name valid
// blocks, which attention reads.
inline constexpr std::int64_t kPaddingSlot = -1;

struct Batch {
  std::vector<std::int32_t> input_ids;     // [T]
  std::vector<std::int32_t> positions;     // [T] position of each new token in its sequence
  std::vector<std::int64_t> slot_mapping;  // [T] KV slot each new token's K/V is written to,
                                           // or kPaddingSlot
  std::vector<std::int32_t> query_start;   // [B+1] new tokens of sequence b: [qs[b], qs[b+1])
  std::vector<std::int32_t> context_lens;  // [B] tokens with KV after this step (cached + new)
  std::vector<std::int32_t> block_tables;  // [B][max_blocks_per_seq], row-major, -1 padded
  std::int32_t max_blocks_per_seq = 0;
  std::vector<std::int32_t> logits_rows;  // [R] indices into [0, T) whose logits are wanted
  struct BlockCopy {
    std::int32_t src = 0;
    std::int32_t dst = 0;
  };
  std::vector<BlockCopy> block_copies;  // run at begin_step, in order

  void clear();  // empties every array, keeping their capacity

  std::int32_t num_tokens() const { return static_cast<std::int32_t>(input_ids.size()); }
  std::int32_t num_seqs() const { return static_cast<std::int32_t>(context_lens.size()); }
};

// Throws llmserve::Error when the arrays disagree in size, a slot or block id falls outside a
// cache of num_blocks x block_size, or a new token's position is not inside its context. Backends
// call it in begin_step() so an engine bug is an error, never an out-of-bounds write.
void check_batch(const Batch& batch, std::int32_t num_blocks, std::int32_t block_size);

// Throws llmserve::Error when an input id is outside [0, vocab_size) or, for a model with
// learned positions (num_positions set), a position is beyond its table. Backends call it in
// embed(), before any row is read.
void check_embedding_inputs(const Batch& batch, std::int64_t vocab_size,
                            std::optional<std::int64_t> num_positions);

}  // namespace llmserve::backend
