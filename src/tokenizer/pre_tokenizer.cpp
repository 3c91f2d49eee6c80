#include "pre_tokenizer.h"

#include <nlohmann/json.hpp>
#include <string>

#include "llmserve/common/error.h"

namespace llmserve::tokenizer {
namespace {

using nlohmann::json;

// GPT-2's encoder.py pattern; Hugging Face's ByteLevel pre-tokenizer uses the same one.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Stages {
  std::vector<Regex> regexes;
  bool byte_level = false;
};

Regex split_regex(const json& step, const std::filesystem::path& source) {
  const std::string behavior = step.value("behavior", "");
  if (behavior != "Isolated" || step.value("invert", false)) {
    throw Error(
        "{}: unsupported Split pre-tokenizer (behavior \"{}\", invert {}); supported: "
        "behavior \"Isolated\" without invert",
        source.string(), behavior, step.value("invert", false));
  }
  const json& pattern = step.at("pattern");
  const bool literal = pattern.contains("String");
  const auto text = pattern.at(literal ? "String" : "Regex").get<std::string>();
  try {
    return Regex(text, literal);
  } catch (const Error& e) {
    throw Error("{}: Split pre-tokenizer: {}", source.string(), e.what());
  }
}

void add_stages(const json& step, const std::filesystem::path& source, Stages& stages) {
  const std::string type = step.is_object() ? step.value("type", "") : "";
  if (type == "Sequence") {
    for (const json& inner : step.at("pretokenizers")) add_stages(inner, source, stages);
  } else if (type == "Split") {
    stages.regexes.push_back(split_regex(step, source));
  } else if (type == "ByteLevel") {
    if (step.value("add_prefix_space", false)) {
      throw Error("{}: unsupported ByteLevel pre-tokenizer with add_prefix_space", source.string());
    }
    if (step.value("use_regex", true)) stages.regexes.emplace_back(kGpt2Pattern);
    stages.byte_level = true;
  } else {
    throw Error("{}: unsupported pre_tokenizer type \"{}\" (supported: ByteLevel, Split, Sequence)",
                source.string(), type.empty() ? step.dump() : type);
  }
}

}  // namespace

PreTokenizer PreTokenizer::gpt2() {
  PreTokenizer pre_tokenizer;
  pre_tokenizer.stages_.emplace_back(kGpt2Pattern);
  return pre_tokenizer;
}

PreTokenizer PreTokenizer::from_json(const json& spec, const std::filesystem::path& source) {
  Stages stages;
  add_stages(spec, source, stages);
  if (!stages.byte_level) {
    throw Error("{}: the pre_tokenizer has no ByteLevel step; only byte-level BPE is supported",
                source.string());
  }
  PreTokenizer pre_tokenizer;
  pre_tokenizer.stages_ = std::move(stages.regexes);
  return pre_tokenizer;
}

}  // namespace llmserve::tokenizer
