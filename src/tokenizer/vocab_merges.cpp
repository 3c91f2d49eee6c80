// Reads the original GPT-2 layout: vocab.json, merges.txt and tokenizer_config.json.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "llmserve/common/error.h"
#include "llmserve/common/file.h"
#include "spec_json.h"
#include "tokenizer_spec.h"

namespace llmserve::tokenizer {
namespace {

using nlohmann::json;

// One merge per line, "left right"; an optional first line "#version: 0.2".
std::vector<std::pair<std::string, std::string>> read_merges(const std::filesystem::path& file) {
  const std::string text = read_text_file(file);
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t line_number = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || (line_number == 1 && line.starts_with("#version"))) continue;
    const auto space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      throw Error("{}:{}: expected two tokens separated by one space", file.string(), line_number);
    }
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return merges;
}

constexpr std::string_view kGpt2EndOfText = "<|endoftext|>";

}  // namespace

TokenizerSpec read_vocab_and_merges(const std::filesystem::path& dir) {
  TokenizerSpec spec;
  spec.vocab_source = dir / "vocab.json";
  const json vocab = read_json_file(spec.vocab_source);
  if (!vocab.is_object()) {
    throw Error("{}: expected an object mapping tokens to ids", spec.vocab_source.string());
  }
  TokenId max_id = -1;
  for (const auto& [token, id] : vocab.items()) {
    spec.vocab.emplace_back(token, token_id_from_json(id, spec.vocab_source));
    max_id = std::max(max_id, spec.vocab.back().second);
  }
  spec.merges = read_merges(dir / "merges.txt");

  TokenizerConfig config = read_tokenizer_config(dir);
  // transformers' GPT2Tokenizer makes <|endoftext|> its bos, eos and unk token unless the config
  // names others (the hub's gpt2 tokenizer_config.json names none).
  if (!config.eos_token && vocab.contains(kGpt2EndOfText)) {
    config.special_tokens.push_back({std::string(kGpt2EndOfText)});
    config.eos_token = std::string(kGpt2EndOfText);
  }
  spec.added_tokens = std::move(config.added_tokens);
  for (const auto& token : spec.added_tokens) max_id = std::max(max_id, token.id);
  // A named special token takes its id from the vocabulary, or the next free one (as
  // transformers adds a token the vocabulary lacks).
  for (AddedToken& token : config.special_tokens) {
    const bool known = std::any_of(spec.added_tokens.begin(), spec.added_tokens.end(),
                                   [&](const auto& t) { return t.token.content == token.content; });
    if (known) continue;
    const auto in_vocab = vocab.find(token.content);
    const TokenId id = in_vocab != vocab.end() ? in_vocab->get<TokenId>() : ++max_id;
    spec.added_tokens.push_back({id, std::move(token)});
  }
  spec.eos_token = std::move(config.eos_token);
  return spec;
}

}  // namespace llmserve::tokenizer
