// Reads Hugging Face's tokenizer.json (the "tokenizers" serialization) for byte-level BPE models.
#include <nlohmann/json.hpp>

#include "llmserve/common/error.h"
#include "spec_json.h"
#include "tokenizer_spec.h"

namespace llmserve::tokenizer {
namespace {

using nlohmann::json;

bool null_or_empty(const json& model, const char* key) {
  const auto it = model.find(key);
  return it == model.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty());
}

// Options of the BPE model that change the result and that byte-level BPE does not use are
// refused rather than ignored.
void check_model(const json& model, const std::filesystem::path& file) {
  const std::string type = model.value("type", "BPE");
  if (type != "BPE") {
    throw Error("{}: unsupported model type \"{}\" (supported: BPE)", file.string(), type);
  }
  if (model.value("byte_fallback", false) || !null_or_empty(model, "continuing_subword_prefix") ||
      !null_or_empty(model, "end_of_word_suffix") || !null_or_empty(model, "dropout")) {
    throw Error(
        "{}: unsupported BPE options (byte_fallback, continuing_subword_prefix, "
        "end_of_word_suffix or dropout): only byte-level BPE is supported",
        file.string());
  }
}

void check_decoder(const json& decoder, const std::filesystem::path& file) {
  const std::string type = decoder.is_object() ? decoder.value("type", "") : "";
  if (!decoder.is_null() && type != "ByteLevel") {
    throw Error("{}: unsupported decoder type \"{}\" (supported: ByteLevel)", file.string(),
                type.empty() ? decoder.dump() : type);
  }
}

// A merge is "left right" (the older format) or ["left", "right"] (tokens may hold spaces).
std::pair<std::string, std::string> parse_merge(const json& merge,
                                                const std::filesystem::path& file) {
  if (merge.is_array() && merge.size() == 2) return {merge[0], merge[1]};
  if (merge.is_string()) {
    const auto& text = merge.get_ref<const std::string&>();
    const auto space = text.find(' ');
    if (space != std::string::npos && text.find(' ', space + 1) == std::string::npos) {
      return {text.substr(0, space), text.substr(space + 1)};
    }
  }
  throw Error("{}: malformed merge {}", file.string(), merge.dump());
}

}  // namespace

TokenizerSpec read_tokenizer_json(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "tokenizer.json";
  const json root = read_json_file(file);
  TokenizerSpec spec;
  spec.vocab_source = file;
  try {
    const json& model = root.at("model");
    check_model(model, file);
    for (const auto& [token, id] : model.at("vocab").items()) {
      spec.vocab.emplace_back(token, token_id_from_json(id, file));
    }
    const json& merges = model.at("merges");
    spec.merges.reserve(merges.size());
    for (const json& merge : merges) spec.merges.push_back(parse_merge(merge, file));
    spec.ignore_merges = model.value("ignore_merges", false);
    for (const json& token : root.value("added_tokens", json::array())) {
      spec.added_tokens.push_back(
          {token_id_from_json(token.at("id"), file), added_token_from_json(token, false)});
    }
    spec.normalizer = Normalizer::from_json(root.value("normalizer", json()), file);
    spec.pre_tokenizer = PreTokenizer::from_json(root.value("pre_tokenizer", json()), file);
    check_decoder(root.value("decoder", json()), file);
  } catch (const json::exception& e) {
    throw Error("{}: {}", file.string(), e.what());
  }
  spec.eos_token = read_tokenizer_config(dir).eos_token;
  return spec;
}

}  // namespace llmserve::tokenizer
