#include "normalizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "llmserve/common/error.h"

namespace llmserve::tokenizer {
namespace {

using nlohmann::json;

// Text made only of code points below U+0300 (UTF-8 lead bytes below 0xCC) is already in NFC:
// nothing there decomposes canonically, and every composition needs a second code point at or
// above U+0300. This skips utf8proc for ASCII and most Latin text.
bool nfc_trivially(std::string_view text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) >= 0xCC; });
}

bool declares_nfc(const json& spec, const std::filesystem::path& source) {
  if (spec.is_null()) return false;
  const std::string type = spec.is_object() ? spec.value("type", "") : "";
  if (type == "NFC") return true;
  if (type == "Sequence") {
    const auto steps = spec.find("normalizers");
    if (steps == spec.end() || !steps->is_array()) {
      throw Error("{}: normalizer Sequence without a \"normalizers\" list", source.string());
    }
    bool nfc = false;
    for (const json& step : *steps) nfc = declares_nfc(step, source) || nfc;
    return nfc;
  }
  throw Error("{}: unsupported normalizer type \"{}\" (supported: NFC, Sequence, null)",
              source.string(), type.empty() ? spec.dump() : type);
}

}  // namespace

Normalizer Normalizer::from_json(const json& spec, const std::filesystem::path& source) {
  Normalizer normalizer;
  normalizer.nfc_ = declares_nfc(spec, source);
  return normalizer;
}

std::string_view Normalizer::apply(std::string_view text, std::string& storage) const {
  if (!nfc_ || nfc_trivially(text)) return text;
  utf8proc_uint8_t* raw = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &raw,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(raw, &std::free);
  // The tokenizer hands only valid UTF-8 here, so utf8proc can fail only by running out of memory.
  if (length < 0) throw Error("NFC normalization failed: {}", utf8proc_errmsg(length));
  storage.assign(reinterpret_cast<const char*>(raw), static_cast<std::size_t>(length));
  return storage;
}

}  // namespace llmserve::tokenizer
