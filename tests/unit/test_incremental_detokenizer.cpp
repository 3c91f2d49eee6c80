#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "llmserve/tokenizer/incremental_detokenizer.h"
#include "qwen_files.h"

namespace {

using llmserve::tokenizer::IncrementalDetokenizer;
using llmserve::tokenizer::TokenId;
using llmserve::tokenizer::Tokenizer;

using llmserve::testing::qwen;

// An independent check of well-formed UTF-8 (Unicode 15, table 3-7), written out longhand.
bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const auto cont = [&](std::size_t k, unsigned lo, unsigned hi) {
      return i + k < s.size() && b(k) >= lo && b(k) <= hi;
    };
    if (b(0) < 0x80) {
      i += 1;
    } else if (b(0) >= 0xC2 && b(0) <= 0xDF && cont(1, 0x80, 0xBF)) {
      i += 2;
    } else if (b(0) >= 0xE0 && b(0) <= 0xEF &&
               cont(1, b(0) == 0xE0 ? 0xA0 : 0x80, b(0) == 0xED ? 0x9F : 0xBF) &&
               cont(2, 0x80, 0xBF)) {
      i += 3;
    } else if (b(0) >= 0xF0 && b(0) <= 0xF4 &&
               cont(1, b(0) == 0xF0 ? 0x90 : 0x80, b(0) == 0xF4 ? 0x8F : 0xBF) &&
               cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF)) {
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

// The id of the token that stands for exactly `bytes`.
TokenId token_for_bytes(std::string_view bytes) {
  for (TokenId id = 0; id < qwen().vocab_size(); ++id) {
    if (qwen().token_bytes(id) == bytes) return id;
  }
  ADD_FAILURE() << "no token for those bytes";
  return 0;
}

// Feeds `ids` one at a time; every chunk must be valid UTF-8 and all of them (and the flush)
// must add up to the full decode.
void expect_streams_like_decode(const std::vector<TokenId>& ids, bool skip_special) {
  IncrementalDetokenizer detokenizer(qwen(), skip_special);
  std::string streamed;
  for (const TokenId id : ids) {
    const std::string chunk = detokenizer.push(id);
    EXPECT_TRUE(is_valid_utf8(chunk)) << "after token " << id;
    streamed += chunk;
  }
  streamed += detokenizer.flush();
  EXPECT_EQ(streamed, qwen().decode(ids, skip_special));
}

TEST(IncrementalDetokenizer, EmojiAndCjkStreamExactlyAsDecode) {
  const std::vector<std::string> texts = {
      "Family: 👨‍👩‍👧‍👦, flags 🇺🇸🇯🇵, skin tones 👍🏽👋🏿 and "
      "🍕🍕🍕!",
      "你好，世界！今天天气很好。日本語のテキスト、안녕하세요",
      "ภาษาไทยไม่มีช่องว่าง नमस्ते दुनिया مرحبا بالعالم",
      "<|im_start|>assistant\n🤝🏻 done<|im_end|>"};
  for (const std::string& text : texts) {
    const auto ids = qwen().encode(text);
    expect_streams_like_decode(ids, /*skip_special=*/true);
    expect_streams_like_decode(ids, /*skip_special=*/false);
  }
}

TEST(IncrementalDetokenizer, HoldsBackAnIncompleteCharacter) {
  // Some emoji need several byte-level tokens; find one and cut it after its first token.
  for (const std::string emoji : {"🫠", "🦩", "🪼", "🧌", "🥷"}) {
    const auto ids = qwen().encode(emoji);
    if (ids.size() < 2) continue;
    IncrementalDetokenizer detokenizer(qwen());
    EXPECT_EQ(detokenizer.push(ids[0]), "");
    EXPECT_EQ(detokenizer.flush(), "\uFFFD");
    EXPECT_EQ(detokenizer.flush(), "");

    IncrementalDetokenizer whole(qwen());
    std::string text;
    for (const TokenId id : ids) text += whole.push(id);
    EXPECT_EQ(text, emoji);
    EXPECT_EQ(whole.flush(), "");
    return;
  }
  FAIL() << "every candidate emoji is a single token; pick rarer ones";
}

TEST(IncrementalDetokenizer, BytesThatCanNeverBeValidAreReplacedAtOnce) {
  IncrementalDetokenizer detokenizer(qwen());
  EXPECT_EQ(detokenizer.push(token_for_bytes("\xFF")), "\uFFFD");  // never a lead byte
  EXPECT_EQ(detokenizer.push(token_for_bytes("\x80")), "\uFFFD");  // continuation, no lead
  EXPECT_EQ(detokenizer.push(token_for_bytes("\xF0")), "");        // may still complete...
  EXPECT_EQ(detokenizer.push(token_for_bytes("a")), "\uFFFDa");    // ...but does not
  EXPECT_EQ(detokenizer.push(token_for_bytes("\xE4")), "");
  EXPECT_EQ(detokenizer.push(token_for_bytes("\xBD")), "");
  EXPECT_EQ(detokenizer.push(token_for_bytes("\xA0")), "你");
  EXPECT_EQ(detokenizer.flush(), "");
}

TEST(IncrementalDetokenizer, SpecialTokensFollowSkipSpecial) {
  const TokenId im_end = *qwen().token_to_id("<|im_end|>");
  IncrementalDetokenizer skipping(qwen());
  EXPECT_EQ(skipping.push(im_end), "");
  IncrementalDetokenizer keeping(qwen(), /*skip_special=*/false);
  EXPECT_EQ(keeping.push(im_end), "<|im_end|>");
}

}  // namespace
