#pragma once
// Runs tests/reference/reference_model.py (dense, cache-free numpy, float64) on whole sequences
// and returns its log-probabilities: for each sequence a [len][vocab] block.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace llmserve::testing {

std::vector<std::vector<std::vector<float>>> reference_logprobs(
    const std::filesystem::path& model_dir, const std::vector<std::vector<std::int32_t>>& sequences,
    std::int32_t vocab_size);

}  // namespace llmserve::testing
