#include "byte_level.h"

#include <array>

#include "utf8.h"

namespace llmserve::tokenizer::byte_level {
namespace {

// Bytes that are printable in Latin-1 map to themselves; the other 68 map, in order, to
// U+0100..U+0143 (bytes_to_unicode() in GPT-2's encoder.py).
constexpr char32_t kFirstShifted = 0x100;
constexpr char32_t kCodePointEnd = kFirstShifted + 68;

constexpr bool maps_to_itself(unsigned b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<std::array<char, 2>, 256> spelling{};  // UTF-8 of each byte's code point
  std::array<std::uint8_t, 256> spelling_length{};
  std::array<std::int16_t, kCodePointEnd> byte_of{};  // -1: not a mapped code point
};

constexpr Tables make_tables() {
  Tables t;
  t.byte_of.fill(-1);
  char32_t next_shifted = kFirstShifted;
  for (unsigned b = 0; b < 256; ++b) {
    const char32_t cp = maps_to_itself(b) ? b : next_shifted++;
    t.byte_of[cp] = static_cast<std::int16_t>(b);
    if (cp < 0x80) {
      t.spelling[b] = {static_cast<char>(cp), 0};
      t.spelling_length[b] = 1;
    } else {
      t.spelling[b] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
      t.spelling_length[b] = 2;
    }
  }
  return t;
}

constexpr Tables kTables = make_tables();

}  // namespace

std::string_view char_for_byte(std::uint8_t b) {
  return {kTables.spelling[b].data(), kTables.spelling_length[b]};
}

std::string token_to_bytes(std::string_view token) {
  std::string bytes;
  bytes.reserve(token.size());
  for (std::size_t pos = 0; pos < token.size();) {
    const utf8::CodePoint cp = utf8::decode_at(token, pos);
    if (cp.value >= kCodePointEnd || kTables.byte_of[cp.value] < 0) return std::string(token);
    bytes.push_back(static_cast<char>(kTables.byte_of[cp.value]));
    pos += cp.length;
  }
  return bytes;
}

}  // namespace llmserve::tokenizer::byte_level
