#pragma once
// Decides, token by token, when a sequence stops and which of its text may be released. Stop
// strings are matched on the detokenized text, so a stop string split across tokens is found; the
// text that could still turn out to be the start of a stop string is held back until it cannot,
// so neither a stream nor a final answer ever contains (part of) the stop string.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "llmserve/engine/finish_reason.h"
#include "llmserve/engine/sampling_params.h"

namespace llmserve::engine {

// What stopped a sequence with FinishReason::kStop: a token id (EOS or stop_token_ids) or the
// matched stop string.
using StopReason = std::variant<std::monostate, std::int32_t, std::string>;

struct StopUpdate {
  std::string text;  // text released by this token (possibly empty)
  std::optional<FinishReason> finish;
  StopReason stop_reason;
};

class StopChecker {
 public:
  // Keeps copies of what it needs from `params`.
  StopChecker(const SamplingParams& params, std::vector<std::int32_t> eos_token_ids);

  // Called once per generated token, in order. `num_output_tokens` counts this token; `text` is
  // what the detokenizer produced for it. Order of checks: EOS (unless ignore_eos), stop token
  // ids (neither's text is released), stop strings (text is cut where the match begins),
  // max_tokens (releases everything held back). Stop conditions apply from min_tokens on.
  //
  // As in vLLM, min_tokens only disables the checks while num_output_tokens < min_tokens; text
  // still accumulates then, and the first checked token finds a stop string that ends in its
  // own text, even one that began in earlier tokens' text. A stop string lying wholly in text
  // of unchecked tokens never stops the sequence. A stop string matches when it ends in this
  // token's text; of several, the one starting earliest wins (then the first listed). Whatever
  // stops the sequence releases all text before the stop, held back or not. Only the unreleased
  // tail is kept (fewer than kMaxStopStringBytes bytes between calls); each call costs
  // O(text size * number of stop strings).
  StopUpdate append(std::int32_t token, std::string_view text, std::int32_t num_output_tokens);

  // The text still held back, for a sequence that ends for another reason (abort, timeout).
  std::string flush();

 private:
  // A stop string, matched incrementally (Knuth-Morris-Pratt), so that text is scanned once.
  struct StopString {
    std::string text;
    std::vector<std::int32_t> border;  // [size]: longest proper border of text[0, i]
    std::int32_t matched = 0;          // longest suffix of the text so far that is a prefix
  };

  struct StopMatch {
    std::size_t start;  // in held_
    std::size_t stop_index;
  };

  // Feeds held_[from, end) to every stop string; when checking, returns the match that starts
  // earliest among those ending there.
  std::optional<StopMatch> scan(std::size_t from, bool check);
  std::size_t held_back_size() const;
  std::string release(std::size_t size);
  std::string release_all();  // and forgets partial matches
  StopUpdate finish_on_token(std::int32_t token);

  std::vector<std::int32_t> eos_token_ids_;  // empty with ignore_eos
  std::vector<std::int32_t> stop_token_ids_;
  std::vector<StopString> stop_strings_;
  std::int32_t min_tokens_;
  std::int32_t max_tokens_;
  std::string held_;  // unreleased text: what may still begin a stop string
};

}  // namespace llmserve::engine
