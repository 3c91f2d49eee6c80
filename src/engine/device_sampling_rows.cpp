#include "llmserve/engine/device_sampling_rows.h"

#include <algorithm>
#include <random>

namespace llmserve::engine {

DeviceSamplingRows::DeviceSamplingRows(std::int32_t vocab_size,
                                       std::vector<std::int32_t> eos_token_ids)
    : vocab_size_(vocab_size), eos_token_ids_(std::move(eos_token_ids)) {}

std::span<const backend::SamplingRow> DeviceSamplingRows::build(
    std::span<const SamplerRow> rows) {
  rows_.clear();
  edits_.clear();
  edits_begin_.assign(1, 0);
  errors_.assign(rows.size(), {});
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SamplerRow& row = rows[i];
    const SamplingParams& params = *row.params;
    backend::SamplingRow& out = rows_.emplace_back();
    out.logits_row = row.logits_row;
    if (auto error = invalid_row_ids(row, static_cast<std::size_t>(vocab_size_))) {
      errors_[i] = std::move(*error);
      edits_begin_.push_back(edits_.size());
      continue;
    }
    add_edits(row);
    edits_begin_.push_back(edits_.size());
    out.temperature = params.temperature;
    out.top_k = params.top_k;
    out.top_p = params.top_p;
    out.min_p = params.min_p;
    out.repetition_penalty = params.repetition_penalty;
    out.presence_penalty = params.presence_penalty;
    out.frequency_penalty = params.frequency_penalty;
    out.num_top_logprobs = params.logprobs ? *params.logprobs : -1;
    // The CPU Sampler's one draw per sampled row. It draws after its checks of the logits; here
    // the draw comes first, which differs only for a row that then fails (and ends its request).
    if (params.temperature >= kGreedyBelowTemperature) {
      out.uniform = std::generate_canonical<double, 53>(*row.rng);
    }
  }
  // Spans last: edits_ may have moved while it grew.
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    rows_[i].edits = std::span<const backend::LogitEdit>(edits_).subspan(
        edits_begin_[i], edits_begin_[i + 1] - edits_begin_[i]);
  }
  return rows_;
}

// One edit per token the CPU Sampler would touch: apply_logit_bias, apply_penalties and
// mask_stop_tokens, folded per id.
void DeviceSamplingRows::add_edits(const SamplerRow& row) {
  const SamplingParams& params = *row.params;
  slot_.clear();
  auto edit = [&](std::int32_t id) -> backend::LogitEdit& {
    const auto [it, added] = slot_.try_emplace(id, edits_.size());
    if (added) edits_.push_back({.id = id});
    return edits_[it->second];
  };
  for (const auto& [id, bias] : params.logit_bias) edit(id).bias += bias;
  const bool repetition = params.repetition_penalty != 1.0f;
  if (repetition || params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f) {
    for (auto id : row.output_ids) {
      backend::LogitEdit& e = edit(id);
      ++e.output_count;
      e.penalised = true;
    }
    if (repetition) {
      for (auto id : row.prompt_ids) edit(id).penalised = true;
    }
  }
  if (row.output_ids.size() < static_cast<std::size_t>(std::max(params.min_tokens, 0))) {
    if (!params.ignore_eos) {
      for (auto id : eos_token_ids_) edit(id).masked = true;
    }
    for (auto id : params.stop_token_ids) edit(id).masked = true;
  }
}

void DeviceSamplingRows::finish(std::span<const backend::SampledToken> out,
                                std::span<SampleResult> results) const {
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    const backend::SampledToken& sampled = out[i];
    SampleResult& result = results[i];
    result = SampleResult{};
    if (!errors_[i].empty()) {
      result.error = errors_[i];
    } else if (sampled.non_finite_id >= 0) {
      result.error = non_finite_logit_error(sampled.non_finite_id, sampled.non_finite_value);
    } else if (sampled.all_masked || sampled.infinite_after_edits) {
      result.error = unsampleable_error(sampled.all_masked);
    } else {
      result.token = sampled.token;
      if (rows_[i].num_top_logprobs >= 0) {
        result.logprob = sampled.logprob;
        for (std::size_t k = 0; k < sampled.top_ids.size(); ++k) {
          result.top.push_back({sampled.top_ids[k], sampled.top_logprobs[k]});
        }
      }
    }
  }
}

}  // namespace llmserve::engine
