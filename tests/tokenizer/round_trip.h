// The property the round-trip tests, the smoke run and the fuzzer check: encoding then decoding (one id at a
// time through StreamDecoder) gives the text back, with ill-formed UTF-8 as U+FFFD; every piece released is
// well-formed UTF-8. Plain C++ (no GoogleTest) so that the libFuzzer target can use it too.
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace rkchat::tok::test {

// text as a decoder must show it: each ill-formed sequence replaced by U+FFFD, and for SentencePiece U+2581 as a
// space (it stands for the space, so a literal one cannot come back).
inline std::string expected_text(const Tokenizer& tok, std::string_view text) {
  const bool spm = tok.model_kind() == "llama";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const utf8::Seq q = utf8::classify(text, i);
    if (spm && text.substr(i, 3) == "\xE2\x96\x81") {
      out += ' ';
    } else if (q.status == utf8::Status::Valid) {
      out += text.substr(i, q.len);
    } else {
      out += utf8::kReplacement;
    }
    i += q.len;
  }
  return out;
}

// "" when the property holds, else what broke. Special tokens are decoded visibly so that parsed ones come back
// as their text; SentencePiece's space after a special token is not in the text, so that case checks only the
// UTF-8 of the output.
inline std::string round_trip_error(const Tokenizer& tok, std::string_view text, bool parse_special) {
  const std::vector<int32_t> ids = tok.encode(text, parse_special);
  StreamDecoder dec(tok, /*show_special=*/true);
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.n_vocab()) return "id " + std::to_string(id) + " outside the vocabulary";
    const std::string piece = dec.push(id);
    if (!utf8::is_valid(piece)) return "StreamDecoder released ill-formed UTF-8";
    out += piece;
  }
  const std::string tail = dec.flush();
  if (!utf8::is_valid(tail)) return "StreamDecoder flushed ill-formed UTF-8";
  out += tail;
  if (parse_special && tok.add_space_prefix()) return "";
  if (out != expected_text(tok, text)) return "decoded text differs: '" + out + "'";
  return "";
}

}  // namespace rkchat::tok::test
