#include "tokenizer/utf8.h"

#include <cstdint>

namespace rkchat::tok::utf8 {

namespace {

struct Lead {
  size_t len;      // 0: not a lead byte
  uint8_t lo, hi;  // allowed range of the second byte (excludes overlongs and surrogates)
};

Lead lead_of(uint8_t b) {
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

}  // namespace

Seq classify(std::string_view s, size_t i) {
  const Lead lead = lead_of(static_cast<uint8_t>(s[i]));
  if (lead.len == 0) return {Status::Invalid, 1};
  for (size_t k = 1; k < lead.len; ++k) {
    if (i + k >= s.size()) return {Status::Incomplete, k};
    const auto b = static_cast<uint8_t>(s[i + k]);
    const bool ok = k == 1 ? (b >= lead.lo && b <= lead.hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {Status::Invalid, k};
  }
  return {Status::Valid, lead.len};
}

bool is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const Seq q = classify(s, i);
    if (q.status != Status::Valid) return false;
    i += q.len;
  }
  return true;
}

char32_t decode(std::string_view seq) {
  static constexpr uint8_t kLeadMask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t cp = static_cast<uint8_t>(seq[0]) & kLeadMask[seq.size()];
  for (size_t k = 1; k < seq.size(); ++k) cp = (cp << 6) | (static_cast<uint8_t>(seq[k]) & 0x3F);
  return cp;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace rkchat::tok::utf8
