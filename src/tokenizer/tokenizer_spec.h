#pragma once
// What a model directory says about its tokenizer, read from either layout:
//   tokenizer.json (+ tokenizer_config.json for eos_token), or
//   vocab.json + merges.txt (+ tokenizer_config.json, whose special tokens become added tokens;
//   the pre-tokenizer is GPT-2's and there is no normalizer).
// The readers throw llmserve::Error naming the file at fault; Tokenizer builds its tables from
// the result.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "added_tokens.h"
#include "llmserve/tokenizer/tokenizer.h"
#include "normalizer.h"
#include "pre_tokenizer.h"

namespace llmserve::tokenizer {

struct TokenizerSpec {
  std::filesystem::path vocab_source;  // the file holding the BPE vocabulary (for errors)
  std::vector<std::pair<std::string, TokenId>> vocab;       // byte-level spellings
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  bool ignore_merges = false;
  std::vector<AddedTokenWithId> added_tokens;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer = PreTokenizer::gpt2();
  std::optional<std::string> eos_token;  // its spelling, from tokenizer_config.json
};

TokenizerSpec read_tokenizer_json(const std::filesystem::path& dir);
TokenizerSpec read_vocab_and_merges(const std::filesystem::path& dir);

// tokenizer_config.json, the transformers side of a tokenizer (optional in both layouts).
struct TokenizerConfig {
  std::vector<AddedTokenWithId> added_tokens;  // "added_tokens_decoder"
  // Named by bos_token, eos_token, unk_token, pad_token and additional_special_tokens; their ids
  // come from the vocabulary.
  std::vector<AddedToken> special_tokens;
  std::optional<std::string> eos_token;
};

// An absent file is an empty config.
TokenizerConfig read_tokenizer_config(const std::filesystem::path& dir);

}  // namespace llmserve::tokenizer
