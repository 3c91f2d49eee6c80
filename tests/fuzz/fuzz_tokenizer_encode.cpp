// Any bytes as text to encode (what HTTP clients will send). Encoding must never crash and every
// id must be inside the vocabulary; decoding must round-trip: exactly for ASCII text, and for any
// text once it has been through encode/decode (invalid UTF-8 becomes U+FFFD, Unicode becomes NFC,
// both idempotent). Uses Qwen's real tokenizer.json (NFC normalizer, added tokens, a multi-regex
// pre-tokenizer) from LLMSERVE_FUZZ_TOKENIZER_DIR, or the npm copy the tests fetch.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_tokenizer.h"

namespace {

std::string round_trip(std::string_view text) {
  const auto& t = llmserve::fuzz::fuzz_tokenizer();
  const auto ids = t.encode(text, /*parse_special=*/false);
  for (auto id : ids) {
    if (id < 0 || id >= t.vocab_size()) std::abort();
  }
  return t.decode(ids);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto& t = llmserve::fuzz::fuzz_tokenizer();
  for (auto id : t.encode(text, /*parse_special=*/true)) {
    if (id < 0 || id >= t.vocab_size()) std::abort();
  }
  const std::string once = round_trip(text);
  const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0; });
  if (ascii && once != text) std::abort();
  if (round_trip(once) != once) std::abort();
  return 0;
}
