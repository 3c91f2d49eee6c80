#include "llmserve/engine/sequence.h"

#include <utility>

namespace llmserve::engine {

Sequence::Sequence(Request* request, std::int32_t index, std::vector<std::int32_t> prompt_ids,
                   std::uint64_t seed)
    : rng(seed),
      request_(request),
      index_(index),
      tokens_(std::move(prompt_ids)),
      prompt_len_(static_cast<std::int32_t>(tokens_.size())) {}

Sequence::Sequence(const Sequence& parent, std::int32_t index, BlockTable table, std::uint64_t seed)
    : num_computed_tokens(parent.num_computed_tokens),
      block_table(std::move(table)),
      status(parent.status),
      rng(seed),
      request_(parent.request_),
      index_(index),
      tokens_(parent.tokens_),
      prompt_len_(parent.prompt_len_) {}

std::span<const std::int32_t> Sequence::prompt_ids() const {
  return std::span<const std::int32_t>(tokens_).first(static_cast<std::size_t>(prompt_len_));
}

std::span<const std::int32_t> Sequence::output_ids() const {
  return std::span<const std::int32_t>(tokens_).subspan(static_cast<std::size_t>(prompt_len_));
}

}  // namespace llmserve::engine
