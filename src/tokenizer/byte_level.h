#pragma once
// GPT-2's reversible map from the 256 byte values to printable code points. Byte-level BPE
// vocabularies spell every token's bytes through it (space is "Ġ", newline "Ċ"), so that merges
// and vocab.json stay printable text.
#include <cstdint>
#include <string>
#include <string_view>

namespace llmserve::tokenizer::byte_level {

// The UTF-8 spelling of byte `b` in vocabulary strings.
std::string_view char_for_byte(std::uint8_t b);

// The bytes a vocabulary token stands for. A token holding a character outside the map (an added
// token such as "<|im_start|>" is inside it; one with a raw space is not) stands for its own UTF-8
// bytes, as in Hugging Face's ByteLevel decoder.
std::string token_to_bytes(std::string_view token);

}  // namespace llmserve::tokenizer::byte_level
