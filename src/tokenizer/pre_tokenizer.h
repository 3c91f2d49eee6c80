#pragma once
// Splits normalized text into the words that BPE encodes one by one. Each stage is a regex whose
// matches and the gaps between them both become pieces (Hugging Face's Split with behavior
// "Isolated", and ByteLevel with use_regex); a later stage splits the pieces of the earlier one.
// Immutable after construction; safe to use from any thread.
#include <cstddef>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string_view>
#include <vector>

#include "regex.h"

namespace llmserve::tokenizer {

class PreTokenizer {
 public:
  // GPT-2's pattern: what vocab.json + merges.txt models use, and ByteLevel with use_regex.
  static PreTokenizer gpt2();
  // From tokenizer.json's "pre_tokenizer". Throws llmserve::Error naming `source` for a type
  // other than ByteLevel, Split and Sequence, or a Split other than behavior "Isolated", or when
  // there is no ByteLevel step (this tokenizer implements byte-level BPE only).
  static PreTokenizer from_json(const nlohmann::json& spec, const std::filesystem::path& source);

  // Calls `on_word(std::string_view)` for every word of `text` (valid UTF-8), in order; the
  // words are non-empty and concatenate back to `text`.
  template <typename OnWord>
  void for_each_word(std::string_view text, OnWord&& on_word, std::size_t stage = 0) const;

 private:
  PreTokenizer() = default;
  std::vector<Regex> stages_;
};

template <typename OnWord>
void PreTokenizer::for_each_word(std::string_view text, OnWord&& on_word, std::size_t stage) const {
  if (stage == stages_.size()) {
    on_word(text);
    return;
  }
  const auto emit = [&](std::size_t begin, std::size_t end) {
    if (end > begin) for_each_word(text.substr(begin, end - begin), on_word, stage + 1);
  };
  std::size_t gap_begin = 0;
  std::size_t search_from = 0;
  while (search_from < text.size()) {
    const auto match = stages_[stage].find(text, search_from);
    if (!match) break;
    if (match->end == match->begin) {
      // Empty matches split nothing (Hugging Face drops empty pieces); step over one character.
      search_from = match->begin + 1;
      while (search_from < text.size() && (text[search_from] & 0xC0) == 0x80) ++search_from;
      continue;
    }
    emit(gap_begin, match->begin);
    emit(match->begin, match->end);
    gap_begin = search_from = match->end;
  }
  emit(gap_begin, text.size());
}

}  // namespace llmserve::tokenizer
