#include "llmserve/engine/batch_builder.h"

#include <algorithm>

namespace llmserve::engine {

void build_batch(const SchedulerOutput& scheduled, std::int32_t block_size, backend::Batch& batch) {
  batch.clear();
  std::size_t max_blocks = 0;
  for (const auto& s : scheduled.scheduled) {
    max_blocks = std::max(max_blocks, s.sequence->block_table.blocks.size());
  }
  batch.max_blocks_per_seq = static_cast<std::int32_t>(max_blocks);
  batch.query_start.push_back(0);
  for (const auto& [seq, num_new] : scheduled.scheduled) {
    const auto tokens = seq->tokens();
    const auto& blocks = seq->block_table.blocks;
    const std::int32_t begin = seq->num_computed_tokens;
    const std::int32_t end = begin + num_new;
    for (std::int32_t p = begin; p < end; ++p) {
      batch.input_ids.push_back(tokens[static_cast<std::size_t>(p)]);
      batch.positions.push_back(p);
      batch.slot_mapping.push_back(std::int64_t{blocks[static_cast<std::size_t>(p / block_size)]} *
                                       block_size +
                                   p % block_size);
    }
    batch.query_start.push_back(batch.query_start.back() + num_new);
    batch.context_lens.push_back(end);
    batch.block_tables.insert(batch.block_tables.end(), blocks.begin(), blocks.end());
    batch.block_tables.resize(batch.block_tables.size() + (max_blocks - blocks.size()), -1);
    if (end == seq->num_tokens()) batch.logits_rows.push_back(batch.query_start.back() - 1);
  }
  for (const auto& copy : scheduled.block_copies)
    batch.block_copies.push_back({copy.src, copy.dst});
}

}  // namespace llmserve::engine
