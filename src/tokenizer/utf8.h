// UTF-8 well-formedness (Unicode Table 3-7), shared by the SentencePiece splitter and the stream decoder.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rkchat::tok::utf8 {

enum class Status { Valid, Invalid, Incomplete };

struct Seq {
  Status status;
  // Valid: the sequence's length. Invalid: the bytes to replace by one U+FFFD (the maximal ill-formed
  // subpart, at least 1). Incomplete: the bytes present so far (a valid prefix that reaches the end of s).
  size_t len;
};

// Classifies the sequence that starts at s[i] (i < s.size()).
Seq classify(std::string_view s, size_t i);

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_valid(std::string_view s);

// The code point of one valid sequence (as classify found it).
char32_t decode(std::string_view seq);

// Appends the code point as UTF-8 (cp <= 0x10FFFF, not a surrogate).
void append(std::string& out, char32_t cp);

}  // namespace rkchat::tok::utf8
