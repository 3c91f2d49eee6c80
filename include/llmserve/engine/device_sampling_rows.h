#pragma once
// The engine's half of sampling on the device (backend/device_sampling.h): each SamplerRow
// becomes a backend::SamplingRow, with logit_bias, the penalties and the min_tokens mask as
// sparse edits and, for a sampled row, its draw taken from the row's generator exactly as the
// CPU Sampler takes it (one double, greedy rows none), so a seeded request gives the same stream
// of draws on either backend. Each SampledToken then becomes the SampleResult the CPU Sampler
// would have produced, errors worded the same. Engine thread only; buffers are reused.
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "llmserve/backend/device_sampling.h"
#include "llmserve/engine/sampler.h"

namespace llmserve::engine {

class DeviceSamplingRows {
 public:
  DeviceSamplingRows(std::int32_t vocab_size, std::vector<std::int32_t> eos_token_ids);

  // The rows for `rows`, valid until the next call. A row whose ids fall outside the vocabulary
  // is sent as a plain greedy row; finish() reports its error instead of its token.
  std::span<const backend::SamplingRow> build(std::span<const SamplerRow> rows);

  // results[i] from out[i], for the rows of the last build().
  void finish(std::span<const backend::SampledToken> out, std::span<SampleResult> results) const;

 private:
  void add_edits(const SamplerRow& row);

  std::int32_t vocab_size_;
  std::vector<std::int32_t> eos_token_ids_;
  std::vector<backend::SamplingRow> rows_;
  std::vector<backend::LogitEdit> edits_;              // every row's, one after another
  std::vector<std::size_t> edits_begin_;               // [rows + 1]
  std::vector<std::string> errors_;                    // [rows], empty when the row is valid
  std::unordered_map<std::int32_t, std::size_t> slot_;  // token id -> its edit in the current row
};

}  // namespace llmserve::engine
