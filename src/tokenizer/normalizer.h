#pragma once
// The Unicode normalization a tokenizer.json declares ("normalizer"), applied to text before it is
// pre-tokenized. Byte-level BPE models declare none (GPT-2) or NFC (Qwen2); those are supported,
// alone or inside a "Sequence". Stateless and safe to share between threads.
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace llmserve::tokenizer {

class Normalizer {
 public:
  Normalizer() = default;  // the identity
  // Throws llmserve::Error naming `source` for a normalizer type other than NFC or Sequence.
  static Normalizer from_json(const nlohmann::json& spec, const std::filesystem::path& source);

  // `text` normalized: `text` itself when unchanged, else a view of `storage`, which it fills.
  std::string_view apply(std::string_view text, std::string& storage) const;

 private:
  bool nfc_ = false;
};

}  // namespace llmserve::tokenizer
