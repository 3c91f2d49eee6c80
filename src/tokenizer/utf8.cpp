#include "utf8.h"

#include <cstdint>
#include <cstring>

namespace llmserve::tokenizer::utf8 {
namespace {

// Well-formed UTF-8 (Unicode 15, table 3-7): the lead byte fixes the length and the range of the
// second byte (which excludes overlongs, surrogates and code points past U+10FFFF); later bytes
// are always 80..BF.
struct LeadByte {
  std::size_t length;  // 0: never starts a character
  unsigned char second_min;
  unsigned char second_max;
};

constexpr LeadByte classify_lead(unsigned char b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

enum class Sequence { kComplete, kIncomplete, kIllFormed };

struct ScanResult {
  Sequence kind;
  // kComplete: the character's length; kIncomplete: the bytes present (all valid so far);
  // kIllFormed: the length of the maximal subpart to replace by one U+FFFD.
  std::size_t length;
};

ScanResult scan_sequence(std::string_view bytes, std::size_t pos) {
  const LeadByte lead = classify_lead(static_cast<unsigned char>(bytes[pos]));
  if (lead.length == 0) return {Sequence::kIllFormed, 1};
  for (std::size_t n = 1; n < lead.length; ++n) {
    if (pos + n == bytes.size()) return {Sequence::kIncomplete, n};
    const auto b = static_cast<unsigned char>(bytes[pos + n]);
    const unsigned char min = n == 1 ? lead.second_min : 0x80;
    const unsigned char max = n == 1 ? lead.second_max : 0xBF;
    if (b < min || b > max) return {Sequence::kIllFormed, n};
  }
  return {Sequence::kComplete, lead.length};
}

// Skips ASCII eight bytes at a time: most text is mostly ASCII.
std::size_t skip_ascii(std::string_view bytes, std::size_t pos) {
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  while (pos + 8 <= bytes.size()) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + pos, sizeof(word));
    if ((word & kHighBits) != 0) break;
    pos += 8;
  }
  while (pos < bytes.size() && static_cast<unsigned char>(bytes[pos]) < 0x80) ++pos;
  return pos;
}

}  // namespace

bool is_valid(std::string_view bytes) {
  std::size_t pos = skip_ascii(bytes, 0);
  while (pos < bytes.size()) {
    const ScanResult scan = scan_sequence(bytes, pos);
    if (scan.kind != Sequence::kComplete) return false;
    pos = skip_ascii(bytes, pos + scan.length);
  }
  return true;
}

std::size_t append_lossy(std::string& out, std::string_view bytes, bool hold_incomplete_tail) {
  std::size_t run_start = 0;  // start of the well-formed bytes not yet copied
  std::size_t pos = skip_ascii(bytes, 0);
  while (pos < bytes.size()) {
    const ScanResult scan = scan_sequence(bytes, pos);
    if (scan.kind != Sequence::kComplete) {
      out.append(bytes.substr(run_start, pos - run_start));
      // An incomplete sequence can only be the tail: scan_sequence reached the end of `bytes`.
      if (scan.kind == Sequence::kIncomplete && hold_incomplete_tail) return pos;
      out.append(kReplacement);
      run_start = pos + scan.length;
    }
    pos = skip_ascii(bytes, pos + scan.length);
  }
  out.append(bytes.substr(run_start));
  return bytes.size();
}

CodePoint decode_at(std::string_view bytes, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(bytes[pos]);
  const std::size_t length = classify_lead(lead).length;
  if (length == 1) return {lead, 1};
  char32_t value = lead & (0x7F >> length);
  for (std::size_t n = 1; n < length; ++n) {
    value = (value << 6) | (static_cast<unsigned char>(bytes[pos + n]) & 0x3F);
  }
  return {value, length};
}

CodePoint decode_before(std::string_view bytes, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(bytes[start]) & 0xC0) == 0x80) --start;
  return decode_at(bytes, start);
}

}  // namespace llmserve::tokenizer::utf8
