// StreamDecoder: token bytes are released only as complete UTF-8 characters, so that a character split over
// several byte tokens never reaches the user half-written; ill-formed bytes become U+FFFD.
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace rkchat::tok {

namespace {

// Moves the complete characters at the front of pending to the result. An incomplete tail stays in pending,
// unless at_end, when it becomes one U+FFFD.
std::string take_complete(std::string& pending, bool at_end) {
  std::string out;
  size_t i = 0;
  while (i < pending.size()) {
    const utf8::Seq q = utf8::classify(pending, i);
    if (q.status == utf8::Status::Incomplete && !at_end) break;
    if (q.status == utf8::Status::Valid) {
      out.append(pending, i, q.len);
    } else {
      out += utf8::kReplacement;
    }
    i += q.len;
  }
  pending.erase(0, i);
  return out;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool show_special) : tok_(&tok), show_special_(show_special) {}

std::string StreamDecoder::push(int32_t id) {
  std::string piece = tok_->token_bytes(id, show_special_);
  if (at_start_ && !piece.empty()) {
    if (piece[0] == ' ' && tok_->add_space_prefix()) piece.erase(0, 1);
    at_start_ = false;
  }
  pending_ += piece;
  return take_complete(pending_, false);
}

std::string StreamDecoder::flush() { return take_complete(pending_, true); }

void StreamDecoder::reset() {
  pending_.clear();
  at_start_ = true;
}

std::string decode(const Tokenizer& tok, std::span<const int32_t> ids, bool show_special) {
  StreamDecoder dec(tok, show_special);
  std::string out;
  for (int32_t id : ids) out += dec.push(id);
  return out + dec.flush();
}

}  // namespace rkchat::tok
