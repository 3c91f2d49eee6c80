#pragma once
// A PCRE2 pattern compiled for UTF-8 with Unicode properties (\p{L}, and \s, \d, case folding by
// Unicode rules) and JIT-compiled. The compiled code is immutable; the match data and JIT stack
// live per thread, so one Regex may be used from any number of threads at once.
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace llmserve::tokenizer {

class Regex {
 public:
  struct Match {
    std::size_t begin;
    std::size_t end;
  };

  // Throws llmserve::Error with PCRE2's message and the offset of the error in the pattern.
  // `literal`: the pattern is plain text (a Split pattern given as {"String": ...}).
  explicit Regex(std::string_view pattern, bool literal = false);

  // The first match at or after byte `start` of `subject`, which must be valid UTF-8 (checked by
  // the caller once per text, not here per match) with `start` on a character boundary.
  std::optional<Match> find(std::string_view subject, std::size_t start) const;

 private:
  struct CodeDeleter {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
  };
  std::unique_ptr<pcre2_code, CodeDeleter> code_;
};

}  // namespace llmserve::tokenizer
