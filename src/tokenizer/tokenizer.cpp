// Loading and the encode/decode pipeline; each stage lives in its own file (normalizer,
// added_tokens, pre_tokenizer, bpe, vocabulary).
#include "llmserve/tokenizer/tokenizer.h"

#include <utility>

#include "added_tokens.h"
#include "bpe.h"
#include "llmserve/common/error.h"
#include "normalizer.h"
#include "pre_tokenizer.h"
#include "tokenizer_spec.h"
#include "utf8.h"
#include "vocabulary.h"

namespace llmserve::tokenizer {
namespace {

Vocabulary make_vocabulary(const TokenizerSpec& spec) {
  Vocabulary vocabulary;
  for (const auto& [token, id] : spec.vocab) vocabulary.add(id, token, /*special=*/false);
  for (const auto& added : spec.added_tokens) {
    vocabulary.add(added.id, added.token.content, added.token.special);
  }
  return vocabulary;
}

// Added tokens marked "normalized" are matched in normalized text, so their contents are
// normalized too; the others are matched in the text as given.
AddedTokenMatcher make_matcher(const TokenizerSpec& spec, bool normalized, bool with_special) {
  std::vector<AddedTokenWithId> tokens;
  for (AddedTokenWithId added : spec.added_tokens) {
    if (added.token.normalized != normalized || (added.token.special && !with_special)) continue;
    std::string storage;
    added.token.content = std::string(spec.normalizer.apply(added.token.content, storage));
    tokens.push_back(std::move(added));
  }
  return AddedTokenMatcher(std::move(tokens));
}

std::optional<TokenId> find_eos(const TokenizerSpec& spec, const Vocabulary& vocabulary,
                                const std::filesystem::path& dir) {
  if (!spec.eos_token) return vocabulary.id("<|endoftext|>");
  const auto id = vocabulary.id(*spec.eos_token);
  if (!id) {
    throw Error("{}: eos_token \"{}\" is not in the vocabulary",
                (dir / "tokenizer_config.json").string(), *spec.eos_token);
  }
  return id;
}

// The two searches of one encode: added tokens in the raw text, then in each normalized piece.
struct AddedTokenMatchers {
  AddedTokenMatchers(const TokenizerSpec& spec, bool with_special)
      : raw(make_matcher(spec, /*normalized=*/false, with_special)),
        normalized(make_matcher(spec, /*normalized=*/true, with_special)) {}
  AddedTokenMatcher raw;
  AddedTokenMatcher normalized;
};

}  // namespace

struct Tokenizer::Impl {
  Impl(TokenizerSpec spec, const std::filesystem::path& dir)
      : vocabulary(make_vocabulary(spec)),
        bpe(spec.vocab, spec.merges, spec.ignore_merges, spec.vocab_source),
        all_added_tokens(spec, /*with_special=*/true),
        plain_added_tokens(spec, /*with_special=*/false),
        normalizer(spec.normalizer),
        pre_tokenizer(std::move(spec.pre_tokenizer)),
        eos_token_id(find_eos(spec, vocabulary, dir)) {}

  // Added tokens found in the raw text map to their ids; each stretch between them is normalized,
  // searched for the normalized added tokens, pre-tokenized, and BPE-encoded word by word.
  void encode(std::string_view text, const AddedTokenMatchers& added,
              std::vector<TokenId>& ids) const {
    const auto encode_words = [&](std::string_view piece) {
      pre_tokenizer.for_each_word(piece,
                                  [&](std::string_view word) { bpe.encode_word(word, ids); });
    };
    added.raw.split(text, ids, [&](std::string_view piece) {
      std::string storage;
      added.normalized.split(normalizer.apply(piece, storage), ids, encode_words);
    });
  }

  Vocabulary vocabulary;
  BpeModel bpe;
  AddedTokenMatchers all_added_tokens;
  AddedTokenMatchers plain_added_tokens;  // without the special ones
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::optional<TokenId> eos_token_id;
};

Tokenizer Tokenizer::from_directory(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / "tokenizer.json")) {
    return Tokenizer(std::make_unique<Impl>(read_tokenizer_json(dir), dir));
  }
  if (std::filesystem::exists(dir / "vocab.json") && std::filesystem::exists(dir / "merges.txt")) {
    return Tokenizer(std::make_unique<Impl>(read_vocab_and_merges(dir), dir));
  }
  throw Error("{}: no tokenizer found (expected tokenizer.json, or vocab.json and merges.txt)",
              dir.string());
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool parse_special) const {
  // PCRE2 (told to skip its own check) and utf8proc need valid UTF-8; invalid bytes become
  // U+FFFD, as in decode.
  std::string repaired;
  if (!utf8::is_valid(text)) {
    utf8::append_lossy(repaired, text, /*hold_incomplete_tail=*/false);
    text = repaired;
  }
  std::vector<TokenId> ids;
  impl_->encode(text, parse_special ? impl_->all_added_tokens : impl_->plain_added_tokens, ids);
  return ids;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string bytes;
  for (const TokenId id : ids) {
    if (!(skip_special && is_special(id))) bytes.append(token_bytes(id));
  }
  if (utf8::is_valid(bytes)) return bytes;
  std::string text;
  utf8::append_lossy(text, bytes, /*hold_incomplete_tail=*/false);
  return text;
}

std::string_view Tokenizer::token_bytes(TokenId id) const { return impl_->vocabulary.bytes(id); }

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  return impl_->vocabulary.id(token);
}

bool Tokenizer::is_special(TokenId id) const { return impl_->vocabulary.is_special(id); }

std::int32_t Tokenizer::vocab_size() const { return impl_->vocabulary.size(); }

std::optional<TokenId> Tokenizer::eos_token_id() const { return impl_->eos_token_id; }

}  // namespace llmserve::tokenizer
