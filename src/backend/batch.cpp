#include "llmserve/backend/batch.h"

#include "llmserve/common/error.h"

namespace llmserve::backend {

void Batch::clear() {
  input_ids.clear();
  positions.clear();
  slot_mapping.clear();
  query_start.clear();
  context_lens.clear();
  block_tables.clear();
  max_blocks_per_seq = 0;
  logits_rows.clear();
  block_copies.clear();
}

void check_batch(const Batch& batch, std::int32_t num_blocks, std::int32_t block_size) {
  const auto t = static_cast<std::size_t>(batch.num_tokens());
  const auto b = static_cast<std::size_t>(batch.num_seqs());
  if (batch.positions.size() != t || batch.slot_mapping.size() != t) {
    throw Error("batch: {} input ids but {} positions and {} slots", t, batch.positions.size(),
                batch.slot_mapping.size());
  }
  if (batch.query_start.size() != b + 1 || batch.query_start.front() != 0 ||
      static_cast<std::size_t>(batch.query_start.back()) != t) {
    throw Error("batch: query_start must have {} entries from 0 to {}", b + 1, t);
  }
  // Monotonic before anything is read through it, so the loops below stay inside [0, T).
  for (std::size_t s = 0; s < b; ++s) {
    if (batch.query_start[s + 1] < batch.query_start[s]) {
      throw Error("batch: query_start decreases at sequence {}", s);
    }
  }
  if (batch.max_blocks_per_seq < 0 ||
      batch.block_tables.size() != b * static_cast<std::size_t>(batch.max_blocks_per_seq)) {
    throw Error("batch: block_tables must be {} x {}", b, batch.max_blocks_per_seq);
  }
  for (std::size_t s = 0; s < b; ++s) {
    const std::int32_t begin = batch.query_start[s];
    const std::int32_t end = batch.query_start[s + 1];
    const std::int32_t context = batch.context_lens[s];
    if (context < end - begin || context > std::int64_t{batch.max_blocks_per_seq} * block_size) {
      throw Error("batch: sequence {} has context {} for {} new tokens and {} blocks", s, context,
                  end - begin, batch.max_blocks_per_seq);
    }
    const std::int32_t used_blocks = (context + block_size - 1) / block_size;
    for (std::int32_t k = 0; k < used_blocks; ++k) {
      const std::int32_t block = batch.block_tables[s * batch.max_blocks_per_seq + k];
      if (block < 0 || block >= num_blocks) {
        throw Error("batch: sequence {} block {} is {}, outside [0, {})", s, k, block, num_blocks);
      }
    }
    for (std::int32_t i = begin; i < end; ++i) {
      const std::int32_t pos = batch.positions[i];
      if (pos < 0 || pos >= context) {
        throw Error("batch: token {} has position {} outside its context of {}", i, pos, context);
      }
      // The slot must be where attention will read this position back through the block table.
      const std::int64_t expected =
          std::int64_t{batch.block_tables[s * batch.max_blocks_per_seq + pos / block_size]} *
              block_size +
          pos % block_size;
      if (batch.slot_mapping[i] != expected && batch.slot_mapping[i] != kPaddingSlot) {
        throw Error("batch: token {} (position {}) maps to slot {}, its block table says {}", i,
                    pos, batch.slot_mapping[i], expected);
      }
    }
  }
  for (const auto& copy : batch.block_copies) {
    if (copy.src < 0 || copy.src >= num_blocks || copy.dst < 0 || copy.dst >= num_blocks ||
        copy.src == copy.dst) {
      throw Error("batch: block copy {} -> {} outside [0, {}) or onto itself", copy.src, copy.dst,
                  num_blocks);
    }
  }
  for (std::int32_t row : batch.logits_rows) {
    if (row < 0 || static_cast<std::size_t>(row) >= t) {
      throw Error("batch: logits row {} outside [0, {})", row, t);
    }
  }
}

void check_embedding_inputs(const Batch& batch, std::int64_t vocab_size,
                            std::optional<std::int64_t> num_positions) {
  for (std::size_t t = 0; t < batch.input_ids.size(); ++t) {
    if (batch.input_ids[t] < 0 || batch.input_ids[t] >= vocab_size) {
      throw Error("token id {} is outside the vocabulary of {}", batch.input_ids[t], vocab_size);
    }
    if (num_positions && batch.positions[t] >= *num_positions) {
      throw Error("position {} is beyond the model's {} learned positions", batch.positions[t],
                  *num_positions);
    }
  }
}

}  // namespace llmserve::backend
