// SentencePiece BPE (tokenizer.ggml.model = llama): spaces become U+2581, a space is put before text that starts
// the input or follows a special token, pieces merge by score, and characters no token covers fall back to
// <0xNN> byte tokens.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "tokenizer/vocab_tokenizer.h"

namespace rkchat::tok {

class SpmTokenizer final : public VocabTokenizer {
 public:
  SpmTokenizer(Vocab vocab, bool add_space_prefix);

  std::string token_bytes(int32_t id, bool show_special) const override;
  std::string model_kind() const override { return "llama"; }
  bool add_space_prefix() const override { return add_space_prefix_; }

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;

 private:
  struct Workspace;
  void encode_chunk(std::string_view s, Workspace& ws, std::vector<int32_t>& out) const;

  bool add_space_prefix_;
  // No token holds a U+2581 right after another character, so no merge crosses the start of a word and each
  // word can be merged alone (small heaps: 3x faster on long texts). True for Llama 2; checked at load.
  bool split_words_ = true;
  std::array<int32_t, 256> byte_token_{};  // <0xNN> for each byte, or unk/-1 when the vocab lacks it
};

}  // namespace rkchat::tok
